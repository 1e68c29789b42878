// The terminal workloads behind the README's "data path, layer by layer" table, for profiling:
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" node --cpu-prof --cpu-prof-dir=DIR scripts/profile-terminal.mjs
// MODE=cat (RUNS x MIB MiB of text through a session) or MODE=echo (WARM+1000 keystrokes); needs `npm run build`.
// Prints PIDS (client relay agent) and WINDOW <kind> <start us> <end us> <units> on the shared
// CLOCK_MONOTONIC, for scripts/profile-layers.mjs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const B = new URL('../dist/test/bench/', import.meta.url).href;
const { benchCluster } = await import(B + 'cluster.js');
const { makeFile, oursThroughput, sdkEcho } = await import(B + 'terminal.js');
const { median, percentile } = await import(B + 'figures.js');
const mono = () => Number(process.hrtime.bigint() / 1000n);
const dir = mkdtempSync(join(tmpdir(), 'cmdop-prof-'));
const bc = await benchCluster(join(dir, 'c'), 'bench', (process.env.AGENT_ARGS ?? '').split(' ').filter(Boolean));
const t = bc.client.terminal;
console.log('PIDS', process.pid, bc.relayPid, bc.agentPid);
const mode = process.env.MODE ?? 'cat';
if (mode === 'cat') {
  const runs = Number(process.env.RUNS ?? 2);
  const file = join(dir, 'big.txt');
  const { size, lines } = makeFile(file, Number(process.env.MIB ?? 256) * 1024 * 1024);
  const w0 = mono();
  for (let i = 0; i < runs; i++) console.log('cat MB/s', ((await oursThroughput(t, file, size + lines)) / 1e6).toFixed(1));
  console.log('WINDOW cat', w0, mono(), (runs * (size + lines)) / 1048576);
} else {
  const warm = Number(process.env.WARM ?? 20000);
  const e = await sdkEcho(t);
  const w0 = mono();
  const r = await e.measure(warm, 1000);
  console.log('WINDOW echo', w0, mono(), warm + 1000);
  console.log('echo p50', median(r.warm).toFixed(3), 'p99', percentile(r.warm, 99).toFixed(3));
  await e.close();
}
await bc.stop();
