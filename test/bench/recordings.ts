/**
 * What recording costs a terminal: the same `cat` and the same keystroke echo through two
 * identical relay + agent pairs, one recording every session (the default, best-effort) and one
 * with --recording-mode off, interleaved in one run. Also the recording's size on disk.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figure, median, percentile, type Figure } from './figures.js';
import { benchCluster } from './cluster.js';
import { ECHO_WARMUP, makeFile, oursThroughput, sdkEcho } from './terminal.js';

const RUNS = 3;
const ECHO_ROUNDS = 5;

export async function recordingsBench(fileMiB: number, keystrokes: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-rbench-'));
  const on = await benchCluster(join(dir, 'on'), 'rec-on', ['--recording-max-bytes', String(1 << 30)]);
  const off = await benchCluster(join(dir, 'off'), 'rec-off', ['--recording-mode', 'off']);
  try {
    const file = join(dir, 'big.txt');
    const { size, lines } = makeFile(file, fileMiB * 1024 * 1024);
    const expected = size + lines;
    const rates = { on: [] as number[], off: [] as number[] };
    for (let r = 0; r < RUNS; r++) {
      rates.off.push(await oursThroughput(off.client.terminal, file, expected));
      rates.on.push(await oursThroughput(on.client.terminal, file, expected));
    }
    const recDir = join(dir, 'on', 'agent', 'recordings');
    const onDisk = readdirSync(recDir).filter((f) => f.endsWith('.cast.gz')).map((f) => statSync(join(recDir, f)).size);
    // Echo in alternating rounds, so that neither side gets the quieter minutes of the run.
    const echoOn = await sdkEcho(on.client.terminal);
    const echoOff = await sdkEcho(off.client.terminal);
    await echoOn.measure(ECHO_WARMUP, 0);
    await echoOff.measure(ECHO_WARMUP, 0);
    const e1 = { warm: [] as number[] };
    const e0 = { warm: [] as number[] };
    for (let round = 0; round < ECHO_ROUNDS; round++) {
      e1.warm.push(...(await echoOn.measure(0, keystrokes / ECHO_ROUNDS)).warm);
      e0.warm.push(...(await echoOff.measure(0, keystrokes / ECHO_ROUNDS)).warm);
    }
    await echoOn.close();
    await echoOff.close();
    const mb = (x: number) => x / 1e6;
    return [
      figure(`terminal cat ${fileMiB} MiB with recording on (median of ${RUNS})`, 'MB/s', mb(median(rates.on)), '>= 0.9x recording off', { name: 'recording off', value: mb(median(rates.off)) }),
      figure(`keystroke echo RTT p50 with recording on (${keystrokes} keys, warm)`, 'ms', median(e1.warm), '<= 1.05x recording off', { name: 'recording off', value: median(e0.warm) }),
      figure(`keystroke echo RTT p99 with recording on (${keystrokes} keys, warm)`, 'ms', percentile(e1.warm, 99), '<= 1.2x recording off', { name: 'recording off', value: percentile(e0.warm, 99) }),
      figure(`recording of a ${fileMiB} MiB cat on disk (gzip)`, 'MiB', median(onDisk) / 1048576, 'informational', { name: 'the output itself', value: expected / 1048576 }),
    ];
  } finally {
    await on.stop();
    await off.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
