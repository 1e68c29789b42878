/** Real processes for tests: the built CLIs, started and stopped with bounded waits. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
/** The repository root, whether this runs from the sources (vitest) or from dist (the bench). */
export const ROOT = join(HERE, HERE.includes('/dist/test/') ? '../../../..' : '../../..');
export const CLI = (name: 'cmdop' | 'cmdop-agent' | 'cmdop-relay') => join(ROOT, 'dist/src/cli', `${name}.js`);

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` in stderr+stdout. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    listeners.forEach((l) => l());
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    listeners.forEach((l) => l());
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in output:\n${err}\n${out}`)), timeoutMs);
        const check = () => {
          const m = (err + out).match(re);
          if (m) {
            clearTimeout(t);
            resolve(m);
            return true;
          }
          return false;
        };
        if (!check()) listeners.push(() => void check());
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a CLI to completion. */
export async function run(name: Parameters<typeof CLI>[0], args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(process.execPath, [CLI(name), ...args], env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** A relay process on 127.0.0.1 (port 0 unless given), with its URL and fingerprint. */
export async function relayProcess(dataDir: string, port = 0, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Proc & { url: string; fingerprint: string; port: number }> {
  // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): node flags for a profiled bench run.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const p = start(process.execPath, [...nodeArgs, CLI('cmdop-relay'), 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn', ...extra], env);
  const [, url, portStr] = await p.waitFor(/listening on (wss:\/\/127\.0\.0\.1:(\d+))/);
  const [, fingerprint] = await p.waitFor(/fingerprint SHA256 (\S+)/);
  return Object.assign(p, { url: url!, fingerprint: fingerprint!, port: Number(portStr) });
}

/** An agent process enrolled with `token`, resolved once it is online. */
export async function agentProcess(dir: string, relay: { url: string; fingerprint: string }, token: string, hostname: string, extra: string[] = []): Promise<Proc> {
  const p = start(process.execPath, [
    CLI('cmdop-agent'), 'run', '--relay', relay.url, '--fingerprint', relay.fingerprint, '--token', token,
    '--state-dir', join(dir, 'state'), '--socket', join(dir, 'agent.sock'), '--hostname', hostname, '--log-level', 'info', ...extra,
  ]);
  await p.waitFor(/"msg":"online"/, 15_000);
  return p;
}

/** Peak resident set size seen while `during` runs, sampling the given pids (Linux /proc). */
export async function peakRss<T>(pids: number[], during: Promise<T>, everyMs = 20): Promise<{ result: T; peak: Map<number, number> }> {
  const peak = new Map<number, number>();
  const sample = () => {
    for (const pid of pids) {
      try {
        const rss = rssNow(pid);
        if (rss) peak.set(pid, Math.max(peak.get(pid) ?? 0, rss));
      } catch {
        // exited
      }
    }
  };
  sample();
  const t = setInterval(sample, everyMs);
  try {
    const result = await during;
    return { result, peak };
  } finally {
    clearInterval(t);
  }
}

/** Resident set size of a process now, in bytes. */
export function rssNow(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Pids of the processes whose whole command line is `cmd` (Linux /proc). */
export function pidsOf(cmd: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim() === cmd;
      } catch {
        return false;
      }
    })
    .map(Number);
}
