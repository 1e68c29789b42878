/** Real OpenSSH clients (ssh, scp, sftp, rsync, git) through `cmdop ssh-proxy`, for tests and benches. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sshOptions, pinHostKeys } from '../../src/cli/cmdop/ssh.js';
import type { Machine } from '../../src/client/machines.js';
import { CLI } from './procs.js';
import { startCluster, type Cluster } from './cluster.js';
import type { Agent } from '../../src/agent/agent.js';

export interface SshEnv {
  /** `-o` options for ssh, scp and sftp. */
  opts: string[];
  /** The same as one `ssh ...` command line, for rsync -e and GIT_SSH_COMMAND. */
  sshCommand: string;
  env: NodeJS.ProcessEnv;
}

export function sshEnv(m: Machine, dir: string, relay: { url: string; fingerprint: string }, token: string): SshEnv {
  const known = join(dir, `known_hosts-${m.id}`);
  pinHostKeys([m], known);
  const saved = process.argv[1];
  process.argv[1] = CLI('cmdop'); // the ProxyCommand runs the built CLI
  const o = ['-F', '/dev/null', ...sshOptions(m, known).flatMap((x) => ['-o', x]), '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'];
  process.argv[1] = saved!;
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return { opts: o, sshCommand: ['ssh', ...o].map(q).join(' '), env: { ...process.env, CMDOP_BASE_URL: relay.url, CMDOP_TOKEN: token, CMDOP_FINGERPRINT: relay.fingerprint } };
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (bounded), collecting its output. */
export function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv, o: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${o.timeoutMs ?? 60_000} ms; stderr: ${stderr}`));
    }, o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
    // A program that exits without reading its input (git, scp) closes the pipe first: the EPIPE
    // that follows is not the test's failure; its exit code and output say what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}

/** A real relay and one agent, `ssh-box`, online, with the ssh options to reach it through the relay. */
export async function sshBox(): Promise<{ c: Cluster; agent: Agent; s: SshEnv }> {
  const c = await startCluster();
  const agent = await c.startAgent('ssh-box');
  await agent.online();
  const m = await (await c.client()).machines.get('ssh-box');
  return { c, agent, s: sshEnv(m, c.dir, c.relay, c.apiKey) };
}
