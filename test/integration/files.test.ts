import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import type { Client } from '../../src/client/client.js';
import type { WatchEvent } from '../../src/client/files-types.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('files: every operation against real files', () => {
  let cluster: Cluster;
  let client: Client;
  const { dir: d, cleanup } = tempDir('cmdop-files-');

  beforeAll(async () => {
    cluster = await startCluster();
    const agent = await cluster.startAgent('files-host');
    await agent.online();
    client = await cluster.client();
    client.terminal.setMachine('files-host');
  });
  afterAll(async () => {
    await cluster.close();
    cleanup();
  });

  it('list: entries with metadata, hidden names on request, pages with a cursor, recursive', async () => {
    const dir = join(d, 'list');
    mkdirSync(join(dir, 'sub/deeper'), { recursive: true });
    for (let i = 0; i < 25; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), 'x'.repeat(i));
    writeFileSync(join(dir, '.hidden'), 'h');
    writeFileSync(join(dir, 'sub/deeper/leaf.txt'), 'leaf');
    symlinkSync('f01', join(dir, 'link'));
    chmodSync(join(dir, 'f03'), 0o640);

    const all = await client.files.list(dir);
    expect(all.entries.map((e) => e.name)).not.toContain('.hidden');
    expect(all.nextCursor).toBeUndefined();
    const f03 = all.entries.find((e) => e.name === 'f03')!;
    expect(f03).toMatchObject({ type: 'file', size: 3, mode: 0o640, path: join(dir, 'f03'), uid: process.getuid!() });
    expect(f03.mtime.getTime()).toBe(Math.floor(statSync(join(dir, 'f03')).mtimeMs));
    expect(all.entries.find((e) => e.name === 'link')).toMatchObject({ type: 'symlink', target: 'f01' });
    expect(all.entries.find((e) => e.name === 'sub')).toMatchObject({ type: 'dir' });
    expect((await client.files.list(dir, { hidden: true })).entries.map((e) => e.name)).toContain('.hidden');

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.files.list(dir, { limit: 10, ...(cursor ? { cursor } : {}) });
      seen.push(...page.entries.map((e) => e.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(all.entries.map((e) => e.name));

    const rec: string[] = [];
    for await (const e of client.files.iter(dir, { recursive: true, limit: 4 })) rec.push(e.name);
    expect(rec).toContain('sub/deeper/leaf.txt');
    expect(rec.indexOf('sub')).toBeLessThan(rec.indexOf('sub/deeper'));
    expect(new Set(rec).size).toBe(rec.length);
    expect(rec.length).toBe(25 + 1 + 3);
  });

  it('info follows links and hashes on request; ~ is the home directory', async () => {
    const p = join(d, 'info.bin');
    const data = randomBytes(100_000);
    writeFileSync(p, data);
    const e = await client.files.info(p, { hash: 'sha256' });
    expect(e).toMatchObject({ type: 'file', size: 100_000, sha256: sha(data) });
    expect((await client.files.info('~')).path).toBe(homedir());
  });

  it('read: whole, by offset and length, as a stream; the buffered read has a cap', async () => {
    const p = join(d, 'read.bin');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(p, data);
    expect(sha(await client.files.read(p))).toBe(sha(data));
    expect(Buffer.compare(await client.files.read(p, { offset: 1000, length: 5000 }), data.subarray(1000, 6000))).toBe(0);
    expect(sha(await buffer(await client.files.readStream(p)))).toBe(sha(data));
    expect(sha(await buffer(await client.files.readStream(p, { offset: 3 * 1024 * 1024 })))).toBe(sha(data.subarray(3 * 1024 * 1024)));
    await expect(client.files.read(p, { maxBytes: 1024 })).rejects.toMatchObject({ name: 'FileTooLargeError', code: 'too_large' });
    await expect(client.files.read(join(d, 'nope'))).rejects.toMatchObject({ name: 'FileNotFoundError', message: expect.stringContaining('nope') });
    await expect(client.files.read(d)).rejects.toMatchObject({ name: 'IsADirectoryError' });
  });

  it('write: atomic replace, from a Buffer, a string and a stream; parents, mode, no-overwrite', async () => {
    const p = join(d, 'w/new/file.txt');
    await expect(client.files.write(p, 'x')).rejects.toMatchObject({ name: 'FileNotFoundError' });
    const r = await client.files.write(p, 'hello', { createParents: true, hash: true });
    expect(r).toMatchObject({ size: 5, path: p, sha256: sha(Buffer.from('hello')) });
    expect(readFileSync(p, 'utf8')).toBe('hello');
    expect(statSync(p).mode & 0o777).toBe(0o644);
    chmodSync(p, 0o600);
    await client.files.write(p, Buffer.from('second'));
    expect(readFileSync(p, 'utf8')).toBe('second');
    expect(statSync(p).mode & 0o777).toBe(0o600); // an overwrite keeps the old mode
    await client.files.write(p, 'third', { mode: 0o755 });
    expect(statSync(p).mode & 0o777).toBe(0o755);
    await expect(client.files.write(p, 'no', { overwrite: false })).rejects.toMatchObject({ name: 'AlreadyExistsError', code: 'conflict' });
    expect(readFileSync(p, 'utf8')).toBe('third');
    const big = randomBytes(5 * 1024 * 1024);
    const chunks = Array.from({ length: 5 }, (_, i) => big.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
    await client.files.write(p, Readable.from(chunks));
    expect(sha(readFileSync(p))).toBe(sha(big));
    await expect(client.files.write(d, 'x')).rejects.toMatchObject({ name: 'IsADirectoryError' });
    await expect(client.files.write(join(d, 'info.bin/child'), 'x')).rejects.toMatchObject({ name: 'NotADirectoryError' });
    expect(readdirSync(join(d, 'w/new'))).toEqual(['file.txt']); // no temp files left behind
  });

  it('a write whose source fails leaves the old file and no temp file', async () => {
    const p = join(d, 'keep.txt');
    writeFileSync(p, 'original');
    const source = new Readable({
      read() {
        this.push(randomBytes(256 * 1024));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(client.files.write(p, source)).rejects.toThrow();
    await expect.poll(() => readdirSync(d).filter((n) => n.includes('cmdop'))).toEqual([]);
    expect(readFileSync(p, 'utf8')).toBe('original');
  });

  it('delete: files, empty dirs, recursive trees; a non-empty dir needs recursive', async () => {
    const t = join(d, 'del');
    mkdirSync(join(t, 'a/b'), { recursive: true });
    writeFileSync(join(t, 'a/b/c'), 'c');
    await expect(client.files.delete(join(t, 'a'))).rejects.toMatchObject({ name: 'DirectoryNotEmptyError' });
    await client.files.delete(join(t, 'a/b/c'));
    expect(existsSync(join(t, 'a/b/c'))).toBe(false);
    await client.files.delete(join(t, 'a/b'));
    writeFileSync(join(t, 'a/x'), 'x');
    await client.files.delete(t, { recursive: true });
    expect(existsSync(t)).toBe(false);
    await expect(client.files.delete(t)).rejects.toMatchObject({ name: 'FileNotFoundError' });
  });

  it('mkdir: one level, parents, and an existing path', async () => {
    const m = join(d, 'mk/a/b');
    await expect(client.files.mkdir(m)).rejects.toMatchObject({ name: 'FileNotFoundError' });
    expect(await client.files.mkdir(m, { parents: true })).toMatchObject({ type: 'dir', path: m });
    await client.files.mkdir(m, { parents: true }); // like mkdir -p: fine when it exists
    await expect(client.files.mkdir(m)).rejects.toMatchObject({ name: 'AlreadyExistsError' });
  });

  it('copy keeps mode and mtime, refuses to overwrite unless asked, copies trees recursively', async () => {
    const src = join(d, 'cp-src.txt');
    writeFileSync(src, 'copy me');
    chmodSync(src, 0o751);
    utimesSync(src, new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    const dst = join(d, 'cp-dst.txt');
    await client.files.copy(src, dst);
    expect(readFileSync(dst, 'utf8')).toBe('copy me');
    expect(statSync(dst).mode & 0o777).toBe(0o751);
    expect(statSync(dst).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    await expect(client.files.copy(src, dst)).rejects.toMatchObject({ name: 'AlreadyExistsError' });
    await client.files.copy(src, dst, { overwrite: true });

    const tree = join(d, 'cp-tree');
    mkdirSync(join(tree, 'x/y'), { recursive: true });
    writeFileSync(join(tree, 'x/y/z'), 'z');
    symlinkSync('y/z', join(tree, 'x/link'));
    await expect(client.files.copy(tree, join(d, 'cp-tree2'))).rejects.toMatchObject({ name: 'IsADirectoryError' });
    await client.files.copy(tree, join(d, 'cp-tree2'), { recursive: true });
    expect(readFileSync(join(d, 'cp-tree2/x/y/z'), 'utf8')).toBe('z');
    expect(readFileSync(join(d, 'cp-tree2/x/link'), 'utf8')).toBe('z');
    await expect(client.files.copy(join(d, 'missing'), join(d, 'x'))).rejects.toMatchObject({ name: 'FileNotFoundError' });
  });

  it('move renames files and directories, and refuses to clobber unless asked', async () => {
    const a = join(d, 'mv-a');
    writeFileSync(a, 'a');
    await client.files.move(a, join(d, 'mv-b'));
    expect(existsSync(a)).toBe(false);
    expect(readFileSync(join(d, 'mv-b'), 'utf8')).toBe('a');
    writeFileSync(a, 'new a');
    await expect(client.files.move(a, join(d, 'mv-b'))).rejects.toMatchObject({ name: 'AlreadyExistsError' });
    await client.files.move(a, join(d, 'mv-b'), { overwrite: true });
    expect(readFileSync(join(d, 'mv-b'), 'utf8')).toBe('new a');
    mkdirSync(join(d, 'mv-dir/in'), { recursive: true });
    await client.files.move(join(d, 'mv-dir'), join(d, 'mv-dir2'));
    expect(existsSync(join(d, 'mv-dir2/in'))).toBe(true);
  });

  it('search by glob, by name and by content, with a limit', async () => {
    const root = join(d, 'search');
    mkdirSync(join(root, 'src/lib'), { recursive: true });
    writeFileSync(join(root, 'src/a.ts'), 'const a = 1;\n// TODO: fix a\n');
    writeFileSync(join(root, 'src/lib/b.ts'), 'export const b = 2; // TODO later\n');
    writeFileSync(join(root, 'README.md'), 'nothing to do\n');
    writeFileSync(join(root, 'bin.dat'), Buffer.from([0, 1, 2, 84, 79, 68, 79]));
    const byGlob = await client.files.search(root, { glob: '**/*.ts' });
    expect(byGlob.matches.map((m) => m.entry.name).sort()).toEqual(['src/a.ts', 'src/lib/b.ts']);
    expect((await client.files.search(root, { name: 'readme' })).matches.map((m) => m.entry.name)).toEqual(['README.md']);
    const byContent = await client.files.search(root, { content: 'TODO' });
    expect(byContent.matches.map((m) => [m.entry.name, m.line])).toEqual([['src/a.ts', 2], ['src/lib/b.ts', 1]]);
    expect(byContent.matches[0]!.text).toBe('// TODO: fix a');
    const limited = await client.files.search(root, { glob: '**/*', limit: 2 });
    expect(limited).toMatchObject({ truncated: true });
    expect(limited.matches).toHaveLength(2);
    await expect(client.files.search(root, {})).rejects.toMatchObject({ code: 'validation' });
  });

  it('archive streams a tree as tar.gz and as zip that real tools extract', async () => {
    const root = join(d, 'arch');
    mkdirSync(join(root, 'docs'), { recursive: true });
    const big = randomBytes(2 * 1024 * 1024);
    writeFileSync(join(root, 'docs/big.bin'), big);
    writeFileSync(join(root, 'small.txt'), 'small');
    chmodSync(join(root, 'small.txt'), 0o600);
    symlinkSync('small.txt', join(root, 'link'));
    const out = join(d, 'arch-out');
    mkdirSync(join(out, 'tar'), { recursive: true });
    writeFileSync(join(out, 'a.tar.gz'), await buffer(await client.files.archive(root)));
    execFileSync('tar', ['-xzf', join(out, 'a.tar.gz'), '-C', join(out, 'tar')]);
    expect(sha(readFileSync(join(out, 'tar/arch/docs/big.bin')))).toBe(sha(big));
    expect(statSync(join(out, 'tar/arch/small.txt')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, 'tar/arch/link'), 'utf8')).toBe('small');
    writeFileSync(join(out, 'a.zip'), await buffer(await client.files.archive(root, { format: 'zip' })));
    execFileSync('unzip', ['-q', join(out, 'a.zip'), '-d', join(out, 'zip')]);
    expect(sha(readFileSync(join(out, 'zip/arch/docs/big.bin')))).toBe(sha(big));
    expect(readFileSync(join(out, 'zip/arch/small.txt'), 'utf8')).toBe('small');
    await expect(client.files.archive(root, { format: 'rar' as 'zip' }).then(buffer)).rejects.toMatchObject({ code: 'validation' });
  });

  it('watch streams coalesced add, change and unlink events', async () => {
    const root = join(d, 'watch');
    mkdirSync(root);
    const w = await client.files.watch(root, { recursive: true, coalesceMs: 50 });
    const it = w[Symbol.asyncIterator]();
    const next = async (): Promise<WatchEvent> => (await it.next()).value as WatchEvent;
    expect(await next()).toMatchObject({ type: 'ready' });
    writeFileSync(join(root, 'new.txt'), 'one');
    const seen: WatchEvent[] = [];
    while (!seen.some((e) => e.type === 'add' && e.path.endsWith('new.txt'))) seen.push(await next());
    writeFileSync(join(root, 'new.txt'), 'two, longer');
    while (!seen.some((e) => e.type === 'change')) seen.push(await next());
    execFileSync('rm', [join(root, 'new.txt')]);
    while (!seen.some((e) => e.type === 'unlink')) seen.push(await next());
    w.close();
    expect((await it.next()).done).toBe(true);
  });

  // A real full disk needs a small filesystem: a 1 MiB tmpfs, which only root may mount.
  const canMount = process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mkdirp(join(d, 'full'))]).status === 0;
  it.skipIf(!canMount)('a full disk is a NoSpaceError, and the old file stays (needs root to mount a tmpfs)', async () => {
    const p = join(d, 'full/file.bin');
    writeFileSync(p, 'old');
    try {
      await expect(client.files.write(p, randomBytes(2 * 1024 * 1024))).rejects.toMatchObject({ name: 'NoSpaceError', code: 'unavailable', retryable: false, message: expect.stringContaining(p) });
      expect(readFileSync(p, 'utf8')).toBe('old');
      expect(readdirSync(join(d, 'full'))).toEqual(['file.bin']);
    } finally {
      spawnSync('umount', [join(d, 'full')]);
    }
  });

  it.skipIf(!canMount)('a read-only filesystem is a PermissionDeniedError naming the path (needs root to mount a tmpfs)', async () => {
    const ro = mkdirp(join(d, 'ro'));
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', ro]).status).toBe(0);
    try {
      const p = join(ro, 'x.txt');
      await expect(client.files.write(p, 'x')).rejects.toMatchObject({ name: 'PermissionDeniedError', code: 'permission', message: expect.stringContaining(p) });
      await expect(client.files.mkdir(join(ro, 'sub'))).rejects.toMatchObject({ name: 'PermissionDeniedError' });
    } finally {
      spawnSync('umount', [ro]);
    }
  });
});

function mkdirp(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}
