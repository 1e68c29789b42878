import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import type { Client } from '../../src/client/client.js';
import fc from 'fast-check';
import { readAll } from '../../src/link/call.js';

const outsideJail = { name: 'PermissionError', code: 'permission', detail: 'outside_jail' };

describe('files: a jailed agent refuses every escape', () => {
  let cluster: Cluster;
  let client: Client;
  const { dir, cleanup } = tempDir('cmdop-jail-');
  const jail = join(dir, 'jail');
  const outside = join(dir, 'outside');

  beforeAll(async () => {
    mkdirSync(join(jail, 'dir'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'TOP SECRET');
    writeFileSync(join(jail, 'inside.txt'), 'inside');
    symlinkSync(join(outside, 'secret'), join(jail, 'link-out'));
    symlinkSync(outside, join(jail, 'dir-out'));
    symlinkSync('inside.txt', join(jail, 'link-in'));
    symlinkSync(join(outside, 'nothing-yet'), join(jail, 'dangling'));
    cluster = await startCluster();
    await (await cluster.startAgent('jailed', { filesRoots: [jail] })).online();
    await (await cluster.startAgent('readonly', { filesReadOnly: true })).online();
    client = await cluster.client();
    client.files.setMachine('jailed');
  });
  afterAll(async () => {
    await cluster.close();
    cleanup();
  });

  it('relative paths start at the root; .. and absolute paths outside are refused', async () => {
    expect((await client.files.read('inside.txt')).toString()).toBe('inside');
    await expect(client.files.read('../outside/secret')).rejects.toMatchObject(outsideJail);
    await expect(client.files.read(join(outside, 'secret'))).rejects.toMatchObject(outsideJail);
    await expect(client.files.read(`${jail}/dir/../../outside/secret`)).rejects.toMatchObject(outsideJail);
    await expect(client.files.list('~')).rejects.toMatchObject(outsideJail); // home is outside the jail
    await expect(client.files.list('/')).rejects.toMatchObject(outsideJail);
  });

  it('symlinks that lead out are refused for reading, writing, listing and hashing', async () => {
    await expect(client.files.read(join(jail, 'link-out'))).rejects.toMatchObject(outsideJail);
    await expect(client.files.readStream(join(jail, 'link-out')).then(buffer)).rejects.toMatchObject(outsideJail);
    await expect(client.files.info(join(jail, 'link-out'), { hash: 'sha256' })).rejects.toMatchObject(outsideJail);
    await expect(client.files.write(join(jail, 'link-out'), 'pwned')).rejects.toMatchObject(outsideJail);
    await expect(client.files.write(join(jail, 'dir-out/new'), 'pwned')).rejects.toMatchObject(outsideJail);
    await expect(client.files.list(join(jail, 'dir-out'))).rejects.toMatchObject(outsideJail);
    await expect(client.files.mkdir(join(jail, 'dir-out/sub'), { parents: true })).rejects.toMatchObject(outsideJail);
    await expect(client.files.copy(join(jail, 'link-out'), join(jail, 'copied'))).rejects.toMatchObject(outsideJail);
    await expect(client.files.copy(join(jail, 'inside.txt'), join(jail, 'dir-out/copied'))).rejects.toMatchObject(outsideJail);
    await expect(client.files.move(join(jail, 'inside.txt'), join(jail, 'dir-out/moved'))).rejects.toMatchObject(outsideJail);
    await expect(client.files.write(join(jail, 'dangling'), 'x')).rejects.toMatchObject(outsideJail);
    await expect(client.files.write(join(jail, 'dangling/x'), 'x', { createParents: true })).rejects.toMatchObject(outsideJail);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('TOP SECRET');
    expect(readdirSync(outside)).toEqual(['secret']);
    // Links inside the jail work.
    expect((await client.files.read(join(jail, 'link-in'))).toString()).toBe('inside');
  });

  it('walks never pass through a link: list, search and archive stay inside', async () => {
    const names: string[] = [];
    for await (const e of client.files.iter(jail, { recursive: true })) names.push(e.name);
    expect(names).toContain('dir-out');
    expect(names.some((n) => n.startsWith('dir-out/'))).toBe(false);
    const found = await client.files.search(jail, { content: 'TOP SECRET' });
    expect(found.matches).toEqual([]);
    const tar = await buffer(await client.files.archive(jail));
    expect(tar.length).toBeGreaterThan(0);
    expect(gunzipSync(tar).includes(Buffer.from('TOP SECRET'))).toBe(false);
  });

  it('a hard link inside the root to a file outside it leaks nothing: read, search, tar.gz, zip, copy (issue 12, defect 6)', async () => {
    const elsewhere = join(dir, 'outside-hardlink');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'linked-secret'), 'HARDLINKED SECRET');
    linkSync(join(elsewhere, 'linked-secret'), join(jail, 'hard'));
    const hardlink = { name: 'PermissionError', code: 'permission', detail: 'hardlink' };
    await expect(client.files.read(join(jail, 'hard'))).rejects.toMatchObject(hardlink);
    await expect(client.files.readStream(join(jail, 'hard')).then((r) => buffer(r))).rejects.toMatchObject(hardlink);
    await expect(client.files.info(join(jail, 'hard'), { hash: 'sha256' })).rejects.toMatchObject(hardlink);
    await expect(client.files.copy(join(jail, 'hard'), join(jail, 'hard-copy'))).rejects.toMatchObject(hardlink);
    expect((await client.files.search(jail, { content: 'HARDLINKED' })).matches).toEqual([]);
    expect(gunzipSync(await buffer(await client.files.archive(jail))).includes(Buffer.from('HARDLINKED'))).toBe(false);
    const zip = await buffer(await client.files.archive(jail, { format: 'zip' }));
    expect(zip.includes(Buffer.from('hard'))).toBe(zip.includes(Buffer.from('hard-copy'))); // neither entry is in it
    await expect(client.files.copy(jail, join(dir, 'jail-copy'), { recursive: true })).rejects.toMatchObject({ code: 'permission' });
    expect(existsSync(join(jail, 'hard-copy'))).toBe(false);
    unlinkSync(join(jail, 'hard'));
  });

  it('a recursive copy cannot turn a relative symlink into one that leads outside (issue 12, defect 6)', async () => {
    mkdirSync(join(jail, 'a/b/c'), { recursive: true });
    writeFileSync(join(jail, 'x'), 'x');
    symlinkSync('../../../x', join(jail, 'a/b/c/link')); // from a/b/c it is <jail>/x: inside
    await expect(client.files.copy(join(jail, 'a/b/c'), join(jail, 'c2'), { recursive: true })).rejects.toMatchObject(outsideJail);
    // At <jail>/c2 the same text would point two levels above the root: it was never made.
    expect(existsSync(join(jail, 'c2', 'link')) || lstatSync(join(jail, 'c2', 'link'), { throwIfNoEntry: false }) !== undefined).toBe(false);
    // A copy that keeps the link inside is fine.
    await client.files.copy(join(jail, 'a/b/c'), join(jail, 'a/b/c3'), { recursive: true });
    expect(readlinkSync(join(jail, 'a/b/c3/link'))).toBe('../../../x');
    rmSync(join(jail, 'a'), { recursive: true });
    rmSync(join(jail, 'c2'), { recursive: true, force: true });
  });

  it('600 uploads while a host process swaps their directory for a symlink: nothing is ever created outside (issue 12, defect 6)', async () => {
    const raceOut = join(dir, 'race-outside');
    mkdirSync(raceOut);
    mkdirSync(join(jail, 'race'));
    const stop = join(dir, 'race-stop');
    // The swapper runs in its own process, so it races the agent for real.
    const swapper = spawn(process.execPath, ['-e', `
      const fs = require('fs');
      const [d, real, out, stop] = process.argv.slice(1);
      let n = 0;
      while (!fs.existsSync(stop)) {
        try { fs.renameSync(d, real); fs.symlinkSync(out, d); fs.unlinkSync(d); fs.renameSync(real, d); n++; } catch {}
      }
      console.log(n);
    `, join(jail, 'race'), join(jail, 'race.real'), raceOut, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
    let swaps = '';
    swapper.stdout!.on('data', (d: Buffer) => (swaps += d.toString()));
    const swapperDone = new Promise((r) => swapper.once('exit', r));
    const results = { ok: 0, refused: 0 };
    const codes = new Set<string>();
    for (let i = 0; i < 600; i++) {
      await client.files.write(join(jail, 'race', `f${i}`), randomBytes(1024)).then(
        () => results.ok++,
        (err: { code?: string; message?: string }) => {
          codes.add(`${err.code}: ${err.message?.replace(/f\d+/, 'fN')}`);
          results.refused++;
        },
      );
    }
    writeFileSync(stop, '');
    await swapperDone;
    expect(Number(swaps)).toBeGreaterThan(0);
    expect(results.ok + results.refused).toBe(600);
    console.log(`600 racing uploads: ${results.ok} committed, ${results.refused} refused (${[...codes].join('; ')})`);
    expect([...codes].filter((c) => c.startsWith('internal'))).toEqual([]);
    expect(readdirSync(raceOut)).toEqual([]);
    // Everything that was made is inside the jail.
    const made = [...readdirSync(join(jail, 'race')), ...(existsSync(join(jail, 'race.real')) ? readdirSync(join(jail, 'race.real')) : [])];
    expect(made.filter((n) => n.includes('cmdop-tmp'))).toEqual([]);
  });

  it('the roots themselves cannot be deleted or moved', async () => {
    await expect(client.files.delete(jail, { recursive: true })).rejects.toMatchObject({ code: 'permission' });
    expect(existsSync(join(jail, 'inside.txt'))).toBe(true);
  });

  it('a directory swapped for a symlink during an upload: the commit is refused and nothing lands outside', async () => {
    let push: ((b: Buffer | null) => void) | null = null;
    const source = new Readable({ read() {} });
    push = (b) => source.push(b);
    const upload = client.files.write(join(jail, 'dir/target.bin'), source);
    push(randomBytes(256 * 1024));
    await waitFor('the upload temp file', () => readdirSync(join(jail, 'dir')).some((n) => n.includes('cmdop-tmp')));
    renameSync(join(jail, 'dir'), join(jail, 'dir-moved'));
    symlinkSync(outside, join(jail, 'dir'));
    push(randomBytes(1024));
    push(null);
    await expect(upload).rejects.toMatchObject(outsideJail);
    expect(readdirSync(outside)).toEqual(['secret']);
  });

  it('a directory swapped for a symlink during a download: the open file keeps streaming, nothing outside is read', async () => {
    mkdirSync(join(jail, 'dl'));
    const original = randomBytes(12 * 1024 * 1024);
    writeFileSync(join(jail, 'dl/big.bin'), original);
    mkdirSync(join(outside, 'dl'));
    writeFileSync(join(outside, 'dl/big.bin'), Buffer.alloc(original.length, 0x41));
    const rs = await client.files.readStream(join(jail, 'dl/big.bin'));
    const chunks: Buffer[] = [];
    let swapped = false;
    for await (const c of rs) {
      chunks.push(c as Buffer);
      if (!swapped) {
        swapped = true;
        renameSync(join(jail, 'dl'), join(jail, 'dl-moved'));
        symlinkSync(join(outside, 'dl'), join(jail, 'dl'));
      }
    }
    expect(Buffer.concat(chunks).equals(original)).toBe(true);
    await expect(client.files.read(join(jail, 'dl/big.bin'))).rejects.toMatchObject(outsideJail);
  });

  it('read-only mode refuses every change and still reads', async () => {
    client.files.setMachine('readonly');
    const p = join(dir, 'ro.txt');
    writeFileSync(p, 'ro');
    const readOnly = { code: 'permission', detail: 'read_only' };
    expect((await client.files.read(p)).toString()).toBe('ro');
    await expect(client.files.write(p, 'x')).rejects.toMatchObject(readOnly);
    await expect(client.files.delete(p)).rejects.toMatchObject(readOnly);
    await expect(client.files.mkdir(join(dir, 'ro-dir'))).rejects.toMatchObject(readOnly);
    await expect(client.files.copy(p, join(dir, 'ro2'))).rejects.toMatchObject(readOnly);
    await expect(client.files.move(p, join(dir, 'ro2'))).rejects.toMatchObject(readOnly);
    expect(readFileSync(p, 'utf8')).toBe('ro');
    client.files.setMachine('jailed');
  });

  it('fuzz: malformed or random requests to every files method get a typed error, never an internal one', async () => {
    const methods = ['list', 'info', 'read', 'write', 'delete', 'mkdir', 'copy', 'move', 'search', 'upload_status', 'archive', 'watch'];
    const codes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), fc.uint8Array({ maxLength: 64 }), async (method, request) => {
        const stream = await client.stream('jailed', { service: 'files', method, request, end: true });
        const err = await readAll(stream, { timeoutMs: 5000 }).then(
          () => null,
          (e: { code: string }) => e,
        );
        if (method === 'watch' && !err) return; // a valid watch on some path in the jail: fine
        if (err) {
          codes.add(err.code);
          expect(err.code).not.toBe('internal');
        }
      }),
      { numRuns: 300 },
    );
    expect(codes.has('validation')).toBe(true);
    // The agent still serves.
    expect((await client.files.read('inside.txt')).toString()).toBe('inside');
    expect(readdirSync(outside).sort()).toEqual(['dl', 'secret']);
  });
});
