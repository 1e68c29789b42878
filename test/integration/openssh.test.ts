/**
 * OpenSSH's own tools through the relay, against the agent's SSH server (no sshd, no port on the
 * host): Debian's openssh-client, rsync and git, real files, real ptys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Cluster } from '../helpers/cluster.js';
import { runTool, sshBox, sshEnv, type SshEnv } from '../helpers/openssh.js';
import type { Agent } from '../../src/agent/agent.js';
import pty from '@lydell/node-pty';
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { Client } from '../../src/client/client.js';

const require = createRequire(import.meta.url);

describe('OpenSSH through the relay', () => {
  let c: Cluster;
  let agent: Agent;
  let s: SshEnv;
  beforeAll(async () => {
    ({ c, agent, s } = await sshBox());
  });
  afterAll(async () => c.close());

  it('exec: the exit code, and stdout and stderr apart; a signal death is reported as one', async () => {
    const r = await runTool('ssh', [...s.opts, 'ssh-box', 'echo out; echo err >&2; exit 7'], s.env);
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    expect((await runTool('ssh', [...s.opts, 'ssh-box', "sh -c 'exit 0'"], s.env)).code).toBe(0);
    expect((await runTool('ssh', [...s.opts, 'ssh-box', 'cat'], s.env, { input: 'piped through\n' })).stdout).toBe('piped through\n');
    const killed = await runTool('ssh', [...s.opts, 'ssh-box', 'kill -TERM $$'], s.env);
    expect(killed.code).toBe(255); // OpenSSH reports a remote signal death (exit-signal) as 255
  });

  it('scp in both modes, and sftp -b with a batch of every operation', async () => {
    const work = join(c.dir, 'scp');
    mkdirSync(work);
    const src = join(work, 'src.bin');
    writeFileSync(src, randomBytes(3 * 1024 * 1024 + 17));
    for (const mode of [[], ['-O']]) {
      const dst = join(work, `up${mode.length}.bin`);
      const up = await runTool('scp', [...s.opts, ...mode, src, `ssh-box:${dst}`], s.env);
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      expect(readFileSync(dst).equals(readFileSync(src))).toBe(true);
      const back = join(work, `down${mode.length}.bin`);
      expect((await runTool('scp', [...s.opts, ...mode, `ssh-box:${dst}`, back], s.env)).code).toBe(0);
      expect(readFileSync(back).equals(readFileSync(src))).toBe(true);
    }
    const remote = join(work, 'remote');
    const batch = [`mkdir ${remote}`, `cd ${remote}`, `put ${src} a.bin`, 'ls -l', `get a.bin ${join(work, 'got.bin')}`, 'rename a.bin b.bin', 'chmod 600 b.bin', 'symlink b.bin link', 'ln -s b.bin link2', 'mkdir sub', 'rmdir sub', 'rm link2', 'pwd', '-df', 'rm link', 'rm b.bin', `cd ${work}`, `rmdir ${remote}`].join('\n');
    const r = await runTool('sftp', [...s.opts, '-b', '-', 'ssh-box'], s.env, { input: batch + '\n' });
    expect({ code: r.code, stderr: r.stderr.replace(/.*statvfs@openssh.com.*\r?\n?/g, '').trim() }).toEqual({ code: 0, stderr: '' }); // df needs an extension we do not offer
    expect(readFileSync(join(work, 'got.bin')).equals(readFileSync(src))).toBe(true);
    expect(existsSync(remote)).toBe(false);
  });

  it('200 SSH sessions open at once (ssh2 clients on one link): all served, and OpenSSH beside them unaffected', async () => {
    const { Client: SshClient } = (await import('ssh2')).default;
    const raw = await c.client();
    const hostKey = (await raw.machines.get('ssh-box')).sshHostKey.split(' ')[1]!;
    const conns: Array<InstanceType<typeof SshClient>> = [];
    // Each: its own stream, handshake, and an sftp session that answers (no process per session).
    const one = async () => {
      const transport = await raw.tunnels.ssh('ssh-box');
      const conn = new SshClient();
      conns.push(conn);
      return new Promise<string>((resolve, reject) => {
        conn.on('ready', () => conn.sftp((err, sftp) => (err ? reject(err) : sftp.realpath('.', (e, p) => (e ? reject(e) : resolve(p))))));
        conn.on('error', reject);
        conn.connect({ sock: transport as never, username: 'anyone', hostVerifier: (k: Buffer) => k.toString('base64') === hostKey, readyTimeout: 120_000 });
      });
    };
    const homes = await Promise.all(Array.from({ length: 200 }, () => one()));
    expect(new Set(homes)).toEqual(new Set([require('node:os').homedir()]));
    // All 200 still open: a real ssh beside them is served as usual.
    const beside = await runTool('ssh', [...s.opts, 'ssh-box', 'echo beside'], s.env, { timeoutMs: 120_000 });
    expect(beside.stdout).toBe('beside\n');
    for (const conn of conns) conn.end();
  }, 240_000);

  it('rsync -a of a tree with symlinks', async () => {
    const from = join(c.dir, 'rs-from');
    mkdirSync(join(from, 'deep/er'), { recursive: true });
    writeFileSync(join(from, 'a.txt'), 'alpha\n');
    writeFileSync(join(from, 'deep/er/b.bin'), randomBytes(200_000));
    symlinkSync('a.txt', join(from, 'link-to-a'));
    symlinkSync('deep/er', join(from, 'dirlink'));
    const to = join(c.dir, 'rs-to');
    const r = await runTool('rsync', ['-a', '-e', s.sshCommand, `${from}/`, `ssh-box:${to}/`], s.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(to, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(readFileSync(join(to, 'deep/er/b.bin')).equals(readFileSync(join(from, 'deep/er/b.bin')))).toBe(true);
    expect(readlinkSync(join(to, 'link-to-a'))).toBe('a.txt');
    expect(readlinkSync(join(to, 'dirlink'))).toBe('deep/er');
  });

  it('git clone and git push over ssh of a real repository', async () => {
    const bare = join(c.dir, 'repo.git');
    const env = { ...s.env, GIT_SSH_COMMAND: s.sshCommand, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
    expect((await runTool('git', ['init', '-q', '--bare', '-b', 'main', bare], env)).code).toBe(0);
    const seed = join(c.dir, 'seed');
    expect((await runTool('git', ['init', '-q', '-b', 'main', seed], env)).code).toBe(0);
    writeFileSync(join(seed, 'README'), 'hello\n');
    await runTool('git', ['-C', seed, 'add', '.'], env);
    await runTool('git', ['-C', seed, 'commit', '-q', '-m', 'first'], env);
    const push = await runTool('git', ['-C', seed, 'push', '-q', `ssh-box:${bare}`, 'main'], env);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    const clone = join(c.dir, 'clone');
    const cl = await runTool('git', ['clone', '-q', `ssh-box:${bare}`, clone], env);
    expect(cl.code).toBe(0);
    expect(readFileSync(join(clone, 'README'), 'utf8')).toBe('hello\n');
  });

  it('ssh -L to an allowed target works; to a forbidden one it is refused and logged; ssh -R binds on loopback only', async () => {
    const echo = createServer((sock) => sock.pipe(sock)).listen(0, '127.0.0.1');
    await new Promise((r) => echo.once('listening', r));
    const port = (echo.address() as AddressInfo).port;
    const free = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => free.once('listening', r));
    const localPort = (free.address() as AddressInfo).port;
    free.close();
    const fwd = pty.spawn('ssh', [...s.opts, '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${localPort}:127.0.0.1:${port}`, '-L', `${localPort + 1}:10.255.255.1:80`, 'ssh-box'], { env: s.env as Record<string, string> });
    const reply = await waitFor('the forwarded echo', async () => {
      const got = await new Promise<string | null>((resolve) => {
        const sock = netConnect(localPort, '127.0.0.1', () => sock.end('through -L'));
        let data = '';
        sock.on('data', (d) => (data += d));
        sock.on('close', () => resolve(data || null));
        sock.on('error', () => resolve(null));
      });
      return got;
    }, 20_000, 200);
    expect(reply).toBe('through -L');
    const refused = await new Promise<string>((resolve) => {
      const sock = netConnect(localPort + 1, '127.0.0.1');
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('close', () => resolve(data));
      sock.on('error', () => resolve(data));
    });
    expect(refused).toBe(''); // the channel was refused: the local connection just closes
    const admin = await c.client();
    await waitFor('the refusal in the audit log', async () => (await admin.audit.list({ type: 'agent.ssh.forward.refused', limit: 100 })).items.some((e) => JSON.stringify(e).includes('10.255.255.1:80')));
    fwd.kill();
    echo.close();

    const rev = pty.spawn('ssh', [...s.opts, '-v', '-N', '-R', '0.0.0.0:0:127.0.0.1:22', 'ssh-box'], { env: s.env as Record<string, string> });
    let log = '';
    rev.onData((d) => (log += d));
    const allocated = Number((await waitFor('the remote port', () => /Allocated port (\d+)/.exec(log), 20_000))[1]);
    expect(listeners(allocated)).toEqual(['127.0.0.1']); // asked for 0.0.0.0, bound on loopback only
    rev.kill();
  });

  it('sftp under a jail cannot leave it: .., absolute paths, symlinks out, and hard links', async () => {
    const jail = join(c.dir, 'ssh-jail');
    mkdirSync(jail);
    writeFileSync(join(jail, 'inside.txt'), 'ok');
    symlinkSync('/etc', join(jail, 'out-link'));
    const jailed = await c.startAgent('ssh-jailed', { filesRoots: [jail] });
    await jailed.online();
    const j = sshEnv(await (await c.client()).machines.get('ssh-jailed'), c.dir, c.relay, c.apiKey);
    const one = (cmd: string) => runTool('sftp', [...j.opts, '-b', '-', 'ssh-jailed'], j.env, { input: cmd + '\n' });
    expect((await one(`get ${join(jail, 'inside.txt')} ${join(c.dir, 'inside.copy')}`)).code).toBe(0);
    for (const bad of [`get ${jail}/../openssh.test.x /dev/null`, 'get /etc/hostname /dev/null', `get ${jail}/out-link/hostname /dev/null`, `ls ${jail}/..`, `put ${join(jail, 'inside.txt')} /tmp/escaped.txt`, `symlink /etc/passwd ${jail}/pw`, `ln ${jail}/inside.txt ${jail}/hard`]) {
      const r = await one(bad);
      expect(r.code, bad).not.toBe(0);
    }
    expect(existsSync('/tmp/escaped.txt')).toBe(false);
    expect(existsSync(join(jail, 'pw'))).toBe(false);
    expect(existsSync(join(jail, 'hard'))).toBe(false);
  });

  it('a cut link mid-upload gives the ssh client a clean error and leaves nothing half-written; garbage and stalled handshakes do not hurt', async () => {
    const big = join(c.dir, 'cut.bin');
    writeFileSync(big, randomBytes(64 * 1024 * 1024));
    const target = join(c.dir, 'cut-dir');
    mkdirSync(target);
    const { spawn } = await import('node:child_process');
    const scp = spawn('scp', [...s.opts, big, `ssh-box:${target}/cut.bin`], { env: s.env });
    let stderr = '';
    scp.stderr.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((r) => scp.on('close', r));
    await waitFor('the upload to be under way', () => require('node:fs').readdirSync(target).length > 0, 20_000, 20);
    // The relay dies mid-transfer (and comes back on the same port and data).
    await c.restartRelay();
    expect(await done).not.toBe(0); // a failed transfer, not a hang
    await waitFor('the temp to go', () => require('node:fs').readdirSync(target).length === 0, 20_000);
    await waitFor('the agent back online', () => agent.relay!.state === 'online', 30_000);

    // Garbage instead of an SSH banner, and a client that never finishes its handshake.
    const raw = await Client.connect({ url: c.relay.url, token: c.apiKey, fingerprint: c.relay.fingerprint });
    const junk = await raw.tunnels.ssh('ssh-box');
    junk.on('error', () => {});
    junk.write(randomBytes(4096));
    const stalled = await raw.tunnels.ssh('ssh-box');
    stalled.on('error', () => {});
    stalled.write('SSH-2.0-stalled\r\n');
    await withTimeout(new Promise((r) => junk.once('close', r)), 20_000, 'the garbage connection to be closed');
    const r = await runTool('ssh', [...s.opts, 'ssh-box', 'echo still-fine'], s.env);
    expect(r.stdout).toBe('still-fine\n');
    stalled.destroy();
    await raw.close();
  });

  it('SendEnv under the allowlist only, no agent forwarding, and a key without the grant gets a clear refusal', async () => {
    const env = { ...s.env, LANG: 'C.UTF-8', CMDOP_SECRET_VAR: 'leak', SSH_AUTH_SOCK: '/tmp/nonexistent-agent.sock' };
    const r = await runTool('ssh', [...s.opts, '-o', 'SendEnv=LANG CMDOP_SECRET_VAR', '-A', 'ssh-box', 'echo "$LANG|${CMDOP_SECRET_VAR:-}|${SSH_AUTH_SOCK:-}"'], env);
    expect(r.stdout).toBe('C.UTF-8||\n');

    const admin = await c.client();
    const { secret } = await admin.keys.issue({ name: 'observer-only', grants: [{ on: 'all', caps: ['files:read'] }] });
    const limited = { ...s.env, CMDOP_TOKEN: secret };
    const refused = await runTool('ssh', [...s.opts, 'ssh-box', 'echo never'], limited);
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/cmdop-agent: permission: this key lacks the exec grant on this machine/) });
    const noKey = { ...s.env, CMDOP_TOKEN: (await admin.keys.issue({ name: 'info-only', grants: [{ on: 'all', caps: ['info'] }] })).secret };
    const none = await runTool('ssh', [...s.opts, 'ssh-box', 'true'], noKey);
    expect(none.code).toBe(255);
    expect(none.stderr).toMatch(/cmdop: permission: this key lacks the terminal or exec or files:read or files:write or tunnel grant/);
    // files:read is enough for sftp reads, not writes
    const listing = await runTool('sftp', [...s.opts, '-b', '-', 'ssh-box'], limited, { input: `ls ${c.dir}\n` });
    expect(listing.code).toBe(0);
    const put = await runTool('sftp', [...s.opts, '-b', '-', 'ssh-box'], limited, { input: `put /etc/hostname ${c.dir}/no-write\n` });
    expect(put.code).not.toBe(0);
    expect(existsSync(join(c.dir, 'no-write'))).toBe(false);
  });

  it('cmdop ssh and cmdop ssh-config: plain ssh, scp and rsync with the printed config, host keys pinned', async () => {
    const { run } = await import('../helpers/procs.js');
    const ran = await run('cmdop', ['ssh', 'ssh-box', '--', 'sh', '-c', "'echo via-cmdop-ssh; exit 7'"], { CMDOP_BASE_URL: c.relay.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.relay.fingerprint });
    expect(ran.stdout).toContain('via-cmdop-ssh');
    expect(ran.code).toBe(7);
    const known = join(c.dir, 'cfg-known');
    const cfg = await run('cmdop', ['ssh-config', '--all', '--known-hosts', known], { CMDOP_BASE_URL: c.relay.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.relay.fingerprint });
    expect(cfg.code).toBe(0);
    expect(cfg.stdout).toMatch(/^Host ssh-box$/m);
    expect(cfg.stdout).toMatch(/ProxyCommand .*ssh-proxy [0-9a-f-]{36}/);
    expect(readFileSync(known, 'utf8')).toMatch(/^cmdop-[0-9a-f-]{36} ssh-ed25519 AAAA/m);
    const file = join(c.dir, 'ssh_config');
    writeFileSync(file, cfg.stdout + '\nHost *\n  BatchMode yes\n  LogLevel ERROR\n');
    const env = { ...s.env };
    expect((await runTool('ssh', ['-F', file, 'ssh-box', 'echo plain-ssh'], env)).stdout).toBe('plain-ssh\n');
    writeFileSync(join(c.dir, 'cfg-src.txt'), 'by scp\n');
    expect((await runTool('scp', ['-F', file, join(c.dir, 'cfg-src.txt'), `ssh-box:${c.dir}/cfg-dst.txt`], env)).code).toBe(0);
    expect(readFileSync(join(c.dir, 'cfg-dst.txt'), 'utf8')).toBe('by scp\n');
    expect((await runTool('rsync', ['-a', '-e', `ssh -F ${file}`, join(c.dir, 'cfg-src.txt'), `ssh-box:${c.dir}/cfg-rs.txt`], env)).code).toBe(0);
    expect(readFileSync(join(c.dir, 'cfg-rs.txt'), 'utf8')).toBe('by scp\n');
    // A wrong pinned key is refused by ssh itself.
    writeFileSync(known, readFileSync(known, 'utf8').replace(/AAAA\S+/, 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'));
    const bad = await runTool('ssh', ['-F', file, 'ssh-box', 'true'], env);
    expect(bad.code).toBe(255);
    expect(bad.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });
});

/** The IPv4 addresses listening on a TCP port (/proc/net/tcp; state 0A is LISTEN). */
function listeners(port: number): string[] {
  const fs = require('node:fs') as typeof import('node:fs');
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '0A').map((f) => {
    const a = f[1]!.split(':')[0]!;
    return [3, 2, 1, 0].map((i) => parseInt(a.slice(i * 2, i * 2 + 2), 16)).join('.');
  });
}
