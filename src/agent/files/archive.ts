/**
 * files.archive: a directory (or one file) as tar.gz or zip, built while it streams: no temp
 * copy of the tree, one file open at a time, and the walk paced by the link's backpressure.
 * Symlinks are stored as links, never followed.
 */
import { constants, type Stats } from 'node:fs';
import { open, readlink, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import yazl from 'yazl';
import { ValidationError } from '../../errors.js';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { decodeRequest } from '../../link/services.js';
import type { Stream } from '../../protocol/stream.js';
import { writableTo } from '../../link/node-streams.js';
import { onPath } from '../../fs-errors.js';
import { O_NOFOLLOW, type FilesPolicy } from './policy.js';
import { walk, type WalkEntry } from './walk.js';

export async function streamArchive(stream: Stream, policy: FilesPolicy): Promise<void> {
  const req = decodeRequest(cmdop.v1.ArchiveRequest, stream);
  const format = req.format || 'tar.gz';
  if (format !== 'tar.gz' && format !== 'zip') throw new ValidationError(`archive format ${format} is not tar.gz or zip`);
  const r = await policy.resolve(req.path, true);
  const top = await onPath(r.user, () => stat(r.path));
  const base = basename(r.path) || 'root';
  const entries = treeEntries(r.path, base, top, policy);
  const out = writableTo(stream);
  await onPath(r.user, () => (format === 'zip' ? writeZip(entries, out) : writeTarGz(entries, out)));
}

/** The top entry, then (for a directory) everything below it, named relative to the archive root. */
async function* treeEntries(path: string, base: string, top: Stats, policy: FilesPolicy): AsyncGenerator<WalkEntry> {
  // Hard-linked files under a jail are left out: another name for them may lie outside (see mayRead).
  if (policy.mayRead(top)) yield { path, rel: base, name: base, stats: top };
  if (!top.isDirectory()) return;
  for await (const e of walk(path, { recursive: true, hidden: true, guard: policy.guard })) if (policy.mayRead(e.stats)) yield { ...e, rel: `${base}/${e.rel}` };
}

/** A regular file's bytes, exactly `size` of them (zero-padded if it shrank meanwhile), never through a symlink. */
async function fileBytes(e: WalkEntry): Promise<Readable> {
  const fh = await open(e.path, constants.O_RDONLY | O_NOFOLLOW);
  const size = e.stats.size;
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  void (async () => {
    let sent = 0;
    try {
      const buf = Buffer.allocUnsafe(Math.min(size, 1 << 20) || 1);
      while (sent < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - sent), sent);
        const chunk = bytesRead === 0 ? Buffer.alloc(Math.min(buf.length, size - sent)) : Buffer.from(buf.subarray(0, bytesRead));
        sent += chunk.length;
        if (!out.write(chunk)) await new Promise((res) => out.once('drain', res));
      }
      out.end();
    } catch (err) {
      out.destroy(err as Error);
    } finally {
      await fh.close();
    }
  })();
  return out;
}

async function writeTarGz(entries: AsyncIterable<WalkEntry>, out: NodeJS.WritableStream): Promise<void> {
  const pack = tarPack();
  const done = pipeline(pack, createGzip({ level: 6 }), out);
  for await (const e of entries) {
    const header = { name: e.rel, mode: e.stats.mode & 0o7777, mtime: e.stats.mtime, uid: e.stats.uid, gid: e.stats.gid };
    if (e.stats.isDirectory()) {
      await addEntry(pack, { ...header, type: 'directory' });
    } else if (e.stats.isSymbolicLink()) {
      await addEntry(pack, { ...header, type: 'symlink', linkname: await readlink(e.path) });
    } else if (e.stats.isFile()) {
      const body = await fileBytes(e).catch(() => null);
      if (!body) continue; // vanished or unreadable: left out
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ ...header, type: 'file', size: e.stats.size }, (err) => (err ? reject(err) : resolve()));
        body.on('error', reject).pipe(entry);
      });
    }
    // sockets, fifos and devices are left out
  }
  pack.finalize();
  await done;
}

function addEntry(pack: ReturnType<typeof tarPack>, header: Parameters<ReturnType<typeof tarPack>['entry']>[0]): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
}

/** How many entries yazl may hold queued ahead of its output (bounds memory on huge trees). */
const ZIP_AHEAD = 64;

async function writeZip(entries: AsyncIterable<WalkEntry>, out: NodeJS.WritableStream): Promise<void> {
  const zip = new yazl.ZipFile();
  const done = pipeline(zip.outputStream, out);
  let added = 0;
  let started = 0;
  let wake: (() => void) | null = null;
  for await (const e of entries) {
    const opts = { mtime: e.stats.mtime, mode: e.stats.mode };
    if (e.stats.isDirectory()) zip.addEmptyDirectory(e.rel, opts);
    else if (e.stats.isFile()) {
      added++;
      zip.addReadStreamLazy(e.rel, { ...opts, size: e.stats.size }, (cb) => {
        started++;
        wake?.();
        fileBytes(e).then((s) => cb(null, s), (err: Error) => cb(err, undefined as unknown as Readable));
      });
      while (added - started > ZIP_AHEAD) await new Promise<void>((res) => (wake = res));
    }
    // zip has no portable symlink entry in yazl: links are left out of zip archives (tar keeps them)
  }
  zip.end();
  await done;
}
