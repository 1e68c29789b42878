/** A relay process and an agent process for the bench, and a client in this process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { CLI } from './procs.js';
import { track } from './peers.js';

export interface BenchCluster {
  client: Client;
  relayPid: number;
  agentPid: number;
  /** Environment for `cmdop` CLI processes that reach this relay. */
  cliEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to the relay and agent processes. */
function launch(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = track(spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let text = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bench: ${args[1]} did not start: ${text}`)), 30_000);
    const on = (d: Buffer) => {
      text += d.toString();
      const m = text.match(ready);
      if (m) {
        clearTimeout(t);
        resolve({ child, match: m });
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    if (process.env.BENCH_DEBUG) for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => process.stderr.write(d));
  });
}

async function cliOut(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI('cmdop-relay'), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('exit', r));
  return out.trim();
}

export async function benchCluster(dir: string, hostname = 'bench', agentArgs: string[] = [], relayArgs: string[] = []): Promise<BenchCluster> {
  const relayDir = join(dir, 'relay');
  const relay = await launch([CLI('cmdop-relay'), 'serve', '--listen', '127.0.0.1:0', '--data-dir', relayDir, '--log-level', 'warn', ...relayArgs], /listening on (wss:\S+)\nfingerprint SHA256 (\S+)/);
  const [, url, fingerprint] = relay.match;
  const token = await cliOut(['tokens', 'issue', '--data-dir', relayDir]);
  const key = await cliOut(['keys', 'issue', '--data-dir', relayDir]);
  const agent = await launch(
    [CLI('cmdop-agent'), 'run', '--relay', url!, '--fingerprint', fingerprint!, '--token', token, '--state-dir', join(dir, 'agent'), '--socket', join(dir, 'agent.sock'), '--hostname', hostname, '--log-level', 'info', ...agentArgs],
    /"msg":"online"/,
  );
  const client = await Client.connect({ url, token: key, fingerprint, timeoutMs: 60_000 });
  client.terminal.setMachine(hostname);
  return {
    client,
    relayPid: relay.child.pid!,
    agentPid: agent.child.pid!,
    cliEnv: { ...process.env, CMDOP_BASE_URL: url, CMDOP_TOKEN: key, CMDOP_FINGERPRINT: fingerprint, CMDOP_PROFILE: join(dir, 'no-profile.json') },
    async stop() {
      await client.close();
      agent.child.kill();
      relay.child.kill();
      await Promise.all([new Promise((r) => agent.child.once('exit', r)), new Promise((r) => relay.child.once('exit', r))]);
    },
  };
}
