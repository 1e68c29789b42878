/**
 * File transfer figures: `cmdop cp` up and down (client -> relay -> agent, TLS on both hops)
 * side by side with `scp` against a local sshd on loopback, same file, same run. Both are
 * whole-command timings (process start, handshake, transfer, fsync'd commit on our side).
 */
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchCluster } from './cluster.js';
import { figure, median, type Figure } from './figures.js';
import { startSshd } from './sshd.js';
import { startChain } from './tls-chain.js';
import { CLI, ROOT } from './procs.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;
const RUNS = 3;

export async function writeRandom(path: string, mib: number): Promise<void> {
  const out = createWriteStream(path);
  const block = Buffer.alloc(16 * MiB);
  for (let i = 0; i < Math.ceil(mib / 16); i++) {
    randomFillSync(block);
    if (!out.write(Buffer.from(block))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

async function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  await exec(cmd, args, { env, maxBuffer: 1 << 20 });
  return (performance.now() - t0) / 1000;
}

export async function filesBench(mib: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-bench-files-'));
  const c = await benchCluster(join(dir, 'cluster'));
  const sshd = await startSshd(join(dir, 'sshd'));
  const chainDir = join(dir, 'chain');
  mkdirSync(chainDir);
  const chain = await startChain({ files: chainDir });
  try {
    const src = join(dir, 'src.bin');
    await writeRandom(src, mib);
    const remote = join(dir, 'remote');
    mkdirSync(remote);
    const mbs = (secs: number) => (mib * MiB) / 1e6 / secs;
    const cmdop = (a: string, b: string) => timed(process.execPath, [CLI('cmdop'), 'cp', '--quiet', a, b], c.cliEnv);
    const scp = (a: string, b: string) => timed('scp', [...sshd.scp.options, a, b]);
    const chainCli = join(ROOT, 'dist/test/bench/tls-chain-files.js');
    const viaChain = (...args: string[]) => timed(process.execPath, [chainCli, args[0]!, String(chain.relayPort), ...args.slice(1)], { ...process.env, CHAIN_CERT: chain.cert });
    const upChain: number[] = [];
    const downChain: number[] = [];
    const up: number[] = [];
    const upScp: number[] = [];
    const down: number[] = [];
    const downScp: number[] = [];
    // Interleaved runs so that both tools see the same machine state.
    for (let i = 0; i < RUNS; i++) {
      up.push(mbs(await cmdop(src, `bench:${remote}/up.bin`)));
      upScp.push(mbs(await scp(src, `${sshd.scp.remote}${remote}/up-scp.bin`)));
      down.push(mbs(await cmdop(`bench:${remote}/up.bin`, join(dir, 'down.bin'))));
      downScp.push(mbs(await scp(`${sshd.scp.remote}${remote}/up-scp.bin`, join(dir, 'down-scp.bin'))));
      upChain.push(mbs(await viaChain('put', src, 'up-chain.bin')));
      downChain.push(mbs(await viaChain('get', 'up-chain.bin', join(dir, 'down-chain.bin'))));
      // The peer must carry the whole file both ways, or its figure means nothing.
      for (const f of [join(chainDir, 'up-chain.bin'), join(dir, 'down-chain.bin')]) if (statSync(f).size !== mib * MiB) throw new Error(`bench: the chain peer moved ${statSync(f).size} bytes of ${mib * MiB}`);
    }
    return [
      figure(`upload ${mib} MiB (cmdop cp)`, 'MB/s', median(up), '>= 1.0x scp', { name: 'scp upload', value: median(upScp) }),
      figure(`download ${mib} MiB (cmdop cp)`, 'MB/s', median(down), '>= 1.0x scp', { name: 'scp download', value: median(downScp) }),
      figure(`upload ${mib} MiB (cmdop cp) against the bare TLS chain`, 'MB/s', median(up), '>= 0.95x the chain', { name: 'bare chain upload (fsynced)', value: median(upChain) }),
      figure(`download ${mib} MiB (cmdop cp) against the bare TLS chain`, 'MB/s', median(down), '>= 0.95x the chain', { name: 'bare chain download (fsynced)', value: median(downChain) }),
    ];
  } finally {
    chain.stop();
    sshd.stop();
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
