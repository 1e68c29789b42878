/**
 * OpenSSH through the relay: `cmdop ssh-proxy <machine>` (a ProxyCommand: stdin and stdout are the
 * SSH transport), `cmdop ssh <machine> [-- cmd...]` (the system ssh with that proxy and the
 * machine's host key pinned), and `cmdop ssh-config [machine...] [--all]` (a ~/.ssh/config block
 * per machine, whose host keys go to a known_hosts file of ours, so plain ssh, scp, sftp, rsync
 * and git pin them too). No secret is written: the proxy connects with the environment or the
 * default profile, like every other command.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError, type Command } from '../args.js';
import { CONNECT, connect, withClient, type Values } from './connect.js';
import type { Machine } from '../../client/machines.js';

/** How to run this same cmdop again (node + script, or the single executable). */
function selfCommand(): string[] {
  const script = process.argv[1] ?? '';
  return script.endsWith('.js') ? [process.execPath, script] : [process.execPath];
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`);

export function knownHostsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'cmdop', 'known_hosts');
}

const alias = (m: Pick<Machine, 'id'>) => `cmdop-${m.id}`;

/** The ssh options that route one machine through the relay with its host key pinned. */
export function sshOptions(m: Pick<Machine, 'id'>, knownHosts: string): string[] {
  return [
    `ProxyCommand=${[...selfCommand(), 'ssh-proxy', m.id].map(quote).join(' ')}`,
    `HostKeyAlias=${alias(m)}`,
    `UserKnownHostsFile=${knownHosts}`,
    'StrictHostKeyChecking=yes',
    'CheckHostIP=no',
  ];
}

/** A ~/.ssh/config block for a machine. Pure. */
export function configBlock(m: Pick<Machine, 'id' | 'hostname' | 'name'>, knownHosts: string): string {
  const names = [...new Set([m.name, m.hostname].filter(Boolean))];
  return [`Host ${names.join(' ')}`, ...sshOptions(m, knownHosts).map((o) => `  ${o.replace('=', ' ')}`), ''].join('\n');
}

/** Writes (merging) the machines' host keys into our known_hosts file. */
export function pinHostKeys(machines: Array<Pick<Machine, 'id' | 'sshHostKey'>>, file: string): void {
  const lines = new Map<string, string>();
  if (existsSync(file)) for (const l of readFileSync(file, 'utf8').split('\n')) if (l.trim()) lines.set(l.split(' ')[0]!, l);
  for (const m of machines) if (m.sshHostKey) lines.set(alias(m), `${alias(m)} ${m.sshHostKey}`);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, [...lines.values()].join('\n') + '\n', { mode: 0o600 });
}

export const sshProxyCommand: Command = {
  name: 'ssh-proxy',
  summary: "the machine's SSH server on stdin/stdout (for OpenSSH's ProxyCommand)",
  usage: 'cmdop ssh-proxy <machine>',
  options: { ...CONNECT },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop ssh-proxy <machine>');
    const client = await connect(v);
    const transport = await client.tunnels.ssh(pos[0]!);
    await new Promise<void>((resolve, reject) => {
      process.stdin.pipe(transport).pipe(process.stdout);
      transport.on('error', reject);
      transport.on('end', resolve);
      transport.on('close', resolve);
      process.stdout.on('error', () => resolve()); // ssh went away
    }).finally(() => client.close());
  },
};

export const sshCommand: Command = {
  name: 'ssh',
  summary: 'run the system ssh to a machine through the relay (host key pinned)',
  usage: 'cmdop ssh <machine> [ssh options...] [-- command...]',
  options: { ...CONNECT },
  async run(v, pos) {
    const [machine, ...rest] = pos;
    if (!machine) throw new UsageError('usage: cmdop ssh <machine> [-- command...]');
    const m = await withClient(v, (c) => c.machines.get(machine));
    const dir = mkdtempSync(join(tmpdir(), 'cmdop-ssh-'));
    const known = join(dir, 'known_hosts');
    try {
      pinHostKeys([m], known);
      const args = [...sshOptions(m, known).flatMap((o) => ['-o', o]), ...passConnect(v), m.hostname || m.id, ...rest];
      return await new Promise<number>((resolve, reject) => {
        const child = spawn('ssh', args, { stdio: 'inherit' });
        child.on('error', (err) => reject(new UsageError(`cannot run ssh: ${err.message} (install OpenSSH's client)`)));
        child.on('close', (code) => resolve(code ?? 255));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Connection flags given to `cmdop ssh` reach its proxy through the environment, never argv. */
function passConnect(v: Values): string[] {
  if (v.url) process.env.CMDOP_BASE_URL = v.url as string;
  if (v.token) process.env.CMDOP_TOKEN = v.token as string;
  if (v.fingerprint) process.env.CMDOP_FINGERPRINT = v.fingerprint as string;
  return [];
}

export const sshConfigCommand: Command = {
  name: 'ssh-config',
  summary: 'print ~/.ssh/config blocks for machines (and pin their host keys)',
  usage: 'cmdop ssh-config [machine...] [--all]   e.g. cmdop ssh-config --all >> ~/.ssh/config',
  options: { ...CONNECT, all: { type: 'boolean' }, 'known-hosts': { type: 'string' } },
  async run(v, pos) {
    if (!pos.length && !v.all) throw new UsageError('name machines, or pass --all');
    const machines = await withClient(v, async (c) => {
      if (pos.length) return Promise.all(pos.map((p) => c.machines.get(p)));
      const out: Machine[] = [];
      for await (const m of c.machines.iter()) if (!m.disabled) out.push(m);
      return out;
    });
    const known = (v['known-hosts'] as string | undefined) ?? knownHostsPath();
    pinHostKeys(machines, known);
    process.stdout.write(`# cmdop: machines through the relay; host keys pinned in ${known}\n` + machines.map((m) => configBlock(m, known)).join('\n'));
  },
};
