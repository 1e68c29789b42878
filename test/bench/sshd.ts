/**
 * A throwaway unprivileged-port sshd for the bench (the peer): keys and config in a temp dir,
 * started from Debian's openssh-server, stopped by its pid. See ../shared/DESIGN.md.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { onGroupEnd, requirePeer, track } from './peers.js';

export interface Sshd {
  port: number;
  /** ssh arguments that reach it (before the remote command). */
  args: (extra?: string[]) => string[];
  /** scp options that reach it, and the remote prefix ("user@127.0.0.1:"). */
  scp: { options: string[]; remote: string };
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startSshd(dir: string): Promise<Sshd> {
  requirePeer('/usr/sbin/sshd', 'openssh-server');
  requirePeer('/usr/bin/ssh', 'openssh-client');
  mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true });
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  for (const k of [hostKey, clientKey]) if (!existsSync(k)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
  copyFileSync(`${clientKey}.pub`, join(dir, 'authorized_keys'));
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'LogLevel ERROR',
      // The fan-out peer opens 50 logins at once; the default (10:30:100) would drop some.
      'MaxStartups 256',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
    ].join('\n') + '\n',
  );
  const r = spawnSync('/usr/sbin/sshd', ['-f', config]);
  if (r.status !== 0) throw new Error(`sshd failed: ${r.stderr.toString()}`);
  const base = ['-i', clientKey, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'];
  const user = userInfo().username;
  // Wait until it accepts a login.
  for (let i = 0; i < 100; i++) {
    if (spawnSync('ssh', [...base, `${user}@127.0.0.1`, 'true']).status === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = () => {
    try {
      process.kill(Number(readFileSync(join(dir, 'sshd.pid'), 'utf8')));
    } catch {
      // already stopped
    }
  };
  onGroupEnd(stop); // however the group ends, the daemon goes with it
  return {
    port,
    args: (extra = []) => [...base, ...extra, `${user}@127.0.0.1`],
    scp: { options: ['-q', '-i', clientKey, '-P', String(port), ...base.slice(4)], remote: `${user}@127.0.0.1:` },
    stop,
  };
}

/** Starts a ControlMaster connection; returns the socket path and a stop function. */
export async function controlMaster(sshd: Sshd, dir: string): Promise<{ socket: string; stop(): void }> {
  const socket = join(dir, 'ctl.sock');
  const master = track(spawn('ssh', sshd.args(['-M', '-N', '-S', socket, '-o', 'ControlPersist=no']), { stdio: 'ignore' }));
  for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 25));
  return { socket, stop: () => master.kill() };
}
