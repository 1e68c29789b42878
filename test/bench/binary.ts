/**
 * Single-executable figures: `--version` and start-to-online of the linux-x64 binary, side by side
 * with the same agent run as `node dist/...`, in the same run. Binary sizes are printed too.
 */
import { execFileSync, spawn } from 'node:child_process';
import { track } from './peers.js';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figure, median, type Figure } from './figures.js';
import { CLI, ROOT } from './procs.js';

const RUNS = 7;

function timeIt(cmd: string, args: string[]): number {
  const t0 = performance.now();
  execFileSync(cmd, args, { stdio: 'ignore' });
  return performance.now() - t0;
}

async function startToOnline(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const child = track(spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let text = '';
  const ms = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not online: ${text}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('"msg":"online"')) {
        clearTimeout(t);
        resolve(performance.now() - t0);
      }
    });
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

export async function binaryBench(): Promise<Figure[]> {
  const bin = join(ROOT, 'dist/bin/cmdop-agent-linux-x64');
  if (!existsSync(bin)) execFileSync(process.execPath, [join(ROOT, 'scripts/package.mjs'), '--targets', 'linux-x64', '--programs', 'agent'], { stdio: 'inherit' });
  for (const f of readdirSync(join(ROOT, 'dist/bin')).filter((n) => n !== 'SHA256SUMS')) process.stderr.write(`  ${f}: ${(statSync(join(ROOT, 'dist/bin', f)).size / 1048576).toFixed(1)} MB\n`);
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-bench-bin-'));
  const relayDir = join(dir, 'relay');
  const relay = track(spawn(process.execPath, [CLI('cmdop-relay'), 'serve', '--listen', '127.0.0.1:0', '--data-dir', relayDir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    let text = '';
    const [, url, fp] = await new Promise<RegExpMatchArray>((resolve) => {
      const on = (d: Buffer) => {
        text += d.toString();
        const m = /listening on (wss:\S+)\nfingerprint SHA256 (\S+)/.exec(text);
        if (m) resolve(m);
      };
      relay.stdout!.on('data', on);
      relay.stderr!.on('data', on);
    });
    const token = execFileSync(process.execPath, [CLI('cmdop-relay'), 'tokens', 'issue', '--unlimited', '--data-dir', relayDir]).toString().trim();
    const vBin: number[] = [];
    const vNode: number[] = [];
    const oBin: number[] = [];
    const oNode: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      vBin.push(timeIt(bin, ['--version']));
      vNode.push(timeIt(process.execPath, [CLI('cmdop-agent'), '--version']));
      const args = (n: string) => ['run', '--relay', url!, '--fingerprint', fp!, '--token', token, '--state-dir', join(dir, n), '--socket', join(dir, `${n}.sock`), '--hostname', n, '--log-level', 'info'];
      oBin.push(await startToOnline(bin, args(`bin${i}`), { CMDOP_RUNTIME_DIR: join(dir, 'rt') }));
      oNode.push(await startToOnline(process.execPath, [CLI('cmdop-agent'), ...args(`node${i}`)], {}));
    }
    return [
      figure('agent --version, single executable', 'ms', median(vBin), 'fast', { name: 'node dist/.../cmdop-agent.js --version', value: median(vNode) }),
      figure('agent start -> online, single executable', 'ms', median(oBin), 'fast', { name: 'node dist/... start -> online', value: median(oNode) }),
    ];
  } finally {
    relay.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
