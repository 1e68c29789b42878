/**
 * OpenSSH's own tools through the relay, against the agent's SSH server (no sshd, no port on the
 * host): Debian's openssh-client, rsync and git, real files, real ptys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { runTool, sshEnv, type SshEnv } from '../helpers/openssh.js';
import type { Agent } from '../../src/agent/agent.js';

describe('OpenSSH through the relay', () => {
  let c: Cluster;
  let agent: Agent;
  let s: SshEnv;
  beforeAll(async () => {
    c = await startCluster();
    agent = await c.startAgent('ssh-box');
    await agent.online();
    const m = await (await c.client()).machines.get('ssh-box');
    s = sshEnv(m, c.dir, c.relay, c.apiKey);
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

  it('rsync -a of a tree with symlinks, and an interrupted rsync --partial resumed', async () => {
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
});
