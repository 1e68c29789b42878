import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { CLI, run, start } from '../helpers/procs.js';
import { filesEnv, type FilesEnv } from '../helpers/files-env.js';
import { waitFor } from '../helpers/wait.js';
import { Client } from '../../src/client/client.js';
import pty from '@lydell/node-pty';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Writes `mib` MiB of random data; returns its sha256. */
function writeData(path: string, mib: number): string {
  const data = randomBytes(mib * 1024 * 1024);
  writeFileSync(path, data);
  return sha(data);
}

describe('cmdop file commands against relay and agent processes', () => {
  const { dir, cleanup } = tempDir('cmdop-fcli-');
  const work = join(dir, 'work');
  let e: FilesEnv;

  beforeAll(async () => {
    mkdirSync(work);
    e = await filesEnv(dir, 'fhost');
  });
  afterAll(async () => {
    await e.close();
    cleanup();
  });

  it('ls, cat, mkdir, mv, rm and cp both ways, with -r for trees', async () => {
    const cmd = (...args: string[]) => run('cmdop', args, e.env());
    writeFileSync(join(work, 'hello.txt'), 'hello world\n');
    expect((await cmd('mkdir', '-p', `fhost:${work}/a/b`)).code).toBe(0);
    const ls = await cmd('ls', '-l', `fhost:${work}`);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^-rw-r--r--\s+\S+\s+12\s+\S+ \S+\s+hello\.txt$/m);
    expect(ls.stdout).toMatch(/^drwx/m);
    expect((await cmd('cat', `fhost:${work}/hello.txt`)).stdout).toBe('hello world\n');

    const local = join(dir, 'local');
    mkdirSync(join(local, 'tree/sub'), { recursive: true });
    writeFileSync(join(local, 'tree/sub/f.txt'), 'deep');
    writeFileSync(join(local, 'tree/top.txt'), 'top');
    expect((await cmd('cp', join(local, 'tree'), `fhost:${work}/a/`)).stderr).toMatch(/is a directory \(use -r\)/);
    expect((await cmd('cp', '-r', join(local, 'tree'), `fhost:${work}/a/`)).code).toBe(0);
    expect(readFileSync(join(work, 'a/tree/sub/f.txt'), 'utf8')).toBe('deep');
    expect((await cmd('cp', '-r', `fhost:${work}/a/tree`, join(local, 'back'))).code).toBe(0);
    expect(readFileSync(join(local, 'back/sub/f.txt'), 'utf8')).toBe('deep');
    expect((await cmd('cp', `fhost:${work}/hello.txt`, local)).code).toBe(0);
    expect(readFileSync(join(local, 'hello.txt'), 'utf8')).toBe('hello world\n');
    expect((await cmd('cp', `fhost:${work}/hello.txt`, `fhost:${work}/a/copy.txt`)).code).toBe(0);
    expect(readFileSync(join(work, 'a/copy.txt'), 'utf8')).toBe('hello world\n');

    expect((await cmd('mv', `fhost:${work}/a/copy.txt`, `fhost:${work}/a/moved.txt`)).code).toBe(0);
    expect(existsSync(join(work, 'a/moved.txt'))).toBe(true);
    const rmDir = await cmd('rm', `fhost:${work}/a`);
    expect(rmDir).toMatchObject({ code: 1, stderr: expect.stringMatching(/^cmdop: conflict: .*directory not empty\n$/) });
    expect((await cmd('rm', '-r', `fhost:${work}/a`)).code).toBe(0);
    expect(existsSync(join(work, 'a'))).toBe(false);
    const missing = await cmd('cat', `fhost:${work}/nope`);
    expect(missing).toMatchObject({ code: 1, stderr: `cmdop: not_found: ${work}/nope: no such file or directory\n` });
    expect((await cmd('ls', work)).code).toBe(2); // not machine:path: a usage error
  });

  it('cp shows a progress bar with rate and ETA on a terminal, and nothing when piped', async () => {
    const src = join(dir, 'bar.bin');
    writeData(src, 48);
    const term = pty.spawn(process.execPath, [CLI('cmdop'), 'cp', src, `fhost:${work}/bar.bin`], { cols: 120, rows: 10, env: { ...process.env, ...e.env() } as Record<string, string> });
    let screen = '';
    term.onData((d) => (screen += d));
    const code = await new Promise<number>((r) => term.onExit(({ exitCode }) => r(exitCode)));
    expect(code).toBe(0);
    expect(screen).toMatch(/bar\.bin\s+\[#+\s*\]\s+100%\s+50\.3 MB\/50\.3 MB\s+[\d.]+ [KMG]?B\/s\s+ETA \d+:\d\d/);
    const piped = await run('cmdop', ['cp', src, `fhost:${work}/bar2.bin`], e.env());
    expect(piped).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });

  it('watch prints events as they happen', async () => {
    const w = start(process.execPath, [CLI('cmdop'), 'watch', '--json', `fhost:${work}`], e.env());
    try {
      await w.waitFor(/"type":"ready"/);
      writeFileSync(join(work, 'watched.txt'), 'x');
      await w.waitFor(/"type":"add","path":"[^"]*watched\.txt"/);
    } finally {
      await w.kill('SIGINT');
    }
  });

  it('an upload killed halfway (client, then relay) leaves the destination unchanged and resumes to a correct file', async () => {
    const src = join(dir, 'big-src.bin');
    const want = writeData(src, 192);
    const dest = join(work, 'big.bin');
    writeFileSync(dest, 'the old file');
    const partial = join(work, '.big.bin.cmdop-part');
    const cp = start(process.execPath, [CLI('cmdop'), 'cp', '--quiet', src, `fhost:${dest}`], e.env());
    await waitFor('half of the upload on the agent', () => existsSync(partial) && statSync(partial).size > 64 * 1024 * 1024, 60_000);
    await cp.kill('SIGKILL');
    await e.restartRelay();
    expect(readFileSync(dest, 'utf8')).toBe('the old file');

    const client = await Client.connect({ url: e.relay.url, token: e.key, fingerprint: e.relay.fingerprint });
    client.files.setMachine('fhost');
    const held = await client.files.uploadStatus(dest);
    await client.close();
    expect(held.offset).toBeGreaterThan(64 * 1024 * 1024);

    const resumed = await run('cmdop', ['cp', '--resume', src, `fhost:${dest}`], e.env());
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`resuming big-src.bin at byte ${held.offset} of ${192 * 1024 * 1024}`);
    expect(sha(readFileSync(dest))).toBe(want);
    expect(readdirSync(work).filter((n) => n.includes('cmdop'))).toEqual([]);
  });
});
