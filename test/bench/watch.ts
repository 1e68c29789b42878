/** Bench processes watched by their output: the relay, agents, CLI calls (all tracked, so a group's end stops them). */
import { spawn, type ChildProcess } from 'node:child_process';
import { track } from './peers.js';
import { CLI } from './procs.js';

export interface Watched {
  child: ChildProcess;
  out: () => string;
  wait(re: RegExp, from?: number, timeoutMs?: number): Promise<{ match: RegExpMatchArray; at: number }>;
}

export function watch(args: string[]): Watched {
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let text = '';
  const waiters: Array<() => void> = [];
  const on = (d: Buffer) => {
    text += d.toString();
    waiters.splice(0).forEach((w) => w());
  };
  child.stdout!.on('data', on);
  child.stderr!.on('data', on);
  return {
    child,
    out: () => text,
    wait(re, from = 0, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`bench: timed out waiting for ${re}`)), timeoutMs);
        const check = () => {
          const m = text.slice(from).match(re);
          if (m) {
            clearTimeout(t);
            resolve({ match: m, at: performance.now() });
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

export const kill9 = (p: Watched) => new Promise<void>((r) => (p.child.exitCode !== null ? r() : (p.child.once('exit', () => r()), p.child.kill('SIGKILL'))));

export async function startRelay(dataDir: string, port = 0) {
  const r = watch([CLI('cmdop-relay'), 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn', '--max-handshakes', '256']);
  const { match, at } = await r.wait(/listening on (wss:\/\/127\.0\.0\.1:(\d+))\nfingerprint SHA256 (\S+)/);
  return { r, url: match[1]!, port: Number(match[2]), fingerprint: match[3]!, readyAt: at };
}

export async function cli(args: string[]): Promise<string> {
  const p = watch([CLI('cmdop-relay'), ...args]);
  await new Promise((r) => p.child.once('exit', r));
  return p.out().split('\n')[0]!.trim();
}

