/**
 * files.write: an atomic, resumable upload. Bytes go to a file beside the destination; on a
 * clean end it is fsynced and renamed over the destination (or linked, when overwriting is not
 * allowed, so a file created meanwhile is never clobbered). A cut upload leaves the destination
 * untouched: the partial is deleted at once, or kept for resume when the client asked for that.
 * To resume, both sides agree on the SHA-256 of the prefix the agent already holds.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { AlreadyExistsError, ConflictError, FileNotFoundError, IsADirectoryError } from '../../errors.js';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { decodeRequest } from '../../link/services.js';
import type { Stream } from '../../protocol/stream.js';
import { fsError, onPath } from '../../fs-errors.js';
import { outside, O_NOFOLLOW, type FilesPolicy, type PinnedDir, type ResolvedPath } from './policy.js';
import { partialPath, type Partials } from './partials.js';
import { tempPath } from './ops.js';

/** Receive window of an upload: enough in flight to keep a long link busy. */
export const UPLOAD_WINDOW = 8 * 1024 * 1024;
/** How long a new upload (or a status query) waits for a previous, cut upload to the same path to wind down. */
export const BUSY_WAIT_MS = 5000;

export interface WriteCtx {
  policy: FilesPolicy;
  partials: Partials;
}

/**
 * Where a write lands, checked: inside the jail (a final symlink is followed), the parent
 * directory there (created with createParents), the destination not a directory, and not an
 * existing file unless overwriting. Shared by uploads and by the AI's write_file.
 */
async function prepareDestination(policy: FilesPolicy, path: string, o: { overwrite: boolean; createParents?: boolean }): Promise<{ r: ResolvedPath; dir: string; existing: Stats | null }> {
  const r = await policy.resolveForWrite(path, true);
  const dir = dirname(r.path);
  if (o.createParents) await onPath(r.user, () => mkdir(dir, { recursive: true }));
  const dirSt = await stat(dir).catch(() => null);
  if (!dirSt) throw new FileNotFoundError(`${r.user}: parent directory does not exist`);
  if (!dirSt.isDirectory()) throw fsError(Object.assign(new Error(), { code: 'ENOTDIR' }), r.user);
  const existing = await stat(r.path).catch(() => null);
  if (existing?.isDirectory()) throw new IsADirectoryError(`${r.user}: is a directory`);
  if (existing && !o.overwrite) throw new AlreadyExistsError(`${r.user}: already exists (pass overwrite to replace it)`);
  return { r, dir, existing };
}

export async function streamWrite(stream: Stream, ctx: WriteCtx): Promise<void> {
  const req = decodeRequest(cmdop.v1.WriteFileRequest, stream);
  stream.autoConsume = false;
  // No handlers until the file is open: bytes wait in the stream's inbox (bounded by the window).
  const { r, dir, existing } = await prepareDestination(ctx.policy, req.path, req);

  const key = partialPath(r.path);
  // A resume may race the agent noticing that the previous attempt was cut: give that a moment.
  if (!ctx.partials.claim(key) && !((await ctx.partials.whenIdle(key, BUSY_WAIT_MS)) && ctx.partials.claim(key))) {
    throw new ConflictError(`${r.user}: another upload to this path is in progress`);
  }
  const temp = req.resumable || req.offset ? key : tempPath(r.path);
  let fh: FileHandle | null = null;
  let committed = false;
  let cut = false;
  let pin: PinnedDir | null = null;
  // Names are made through the pinned directory: a directory swapped for a symlink meanwhile cannot move them.
  let at = temp;
  try {
    pin = await ctx.policy.pinDir(dir, r.user);
    at = pin.at(basename(temp));
    const offset = Number(req.offset) || 0;
    const hash = req.hash || offset ? createHash('sha256') : null;
    ctx.partials.begin(temp, temp !== key); // journalled before it exists: a crash leaves nothing unswept
    fh = await openTemp(ctx.policy, { user: r.user, path: at }, offset, req.prefixSha256, hash);
    stream.growWindow(UPLOAD_WINDOW);
    const size = await receive(stream, fh, offset, hash, r.user);
    if (size === null) {
      cut = true; // the finally below keeps or deletes the partial
      return;
    }
    await fh.sync();
    // The temp must still be the file we wrote, in a directory inside the jail.
    const [a, b] = await Promise.all([fh.stat(), lstat(at).catch(() => null)]);
    if (!b || a.ino !== b.ino || a.dev !== b.dev) throw outside(r.user);
    await ctx.policy.resolve(req.path, true);
    const mode = req.mode || (existing ? existing.mode & 0o7777 : 0o644);
    await fh.chmod(mode);
    await fh.close();
    fh = null;
    await commit(at, { user: r.user, path: pin.at(basename(r.path)) }, req.overwrite);
    committed = true;
    await pin.sync();
    ctx.partials.forget(temp);
    ctx.partials.forget(key);
    stream.write(cmdop.v1.WriteFileResult.encode({ size, sha256: hash?.digest('hex') ?? '', path: r.path }).finish());
    stream.end();
  } finally {
    await fh?.close().catch(() => {});
    if (!committed) {
      if (cut && temp === key) ctx.partials.keep(temp);
      else {
        await unlink(at).catch(() => {});
        ctx.partials.forget(temp);
      }
    }
    await pin?.close();
    ctx.partials.release(key);
  }
}

/** Opens the temp (fresh) or the partial (resume, after checking the prefix hash). */
async function openTemp(policy: FilesPolicy, t: ResolvedPath, offset: number, prefixSha256: string, hash: Hash | null): Promise<FileHandle> {
  if (offset === 0) {
    const fh = await onPath(t.user, () => open(t.path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | O_NOFOLLOW, 0o600));
    await policy.verifyOpen(fh.fd, t).catch(async (err) => {
      await fh.close();
      throw err;
    });
    return fh;
  }
  const fh = await open(t.path, constants.O_RDWR | O_NOFOLLOW).catch(() => {
    throw new ConflictError('no interrupted upload to resume at this path', { detail: 'resume_mismatch' });
  });
  try {
    await policy.verifyOpen(fh.fd, t);
    const st = await fh.stat();
    if (st.size < offset) throw new ConflictError(`the agent holds ${st.size} bytes of this upload, not ${offset}`, { detail: 'resume_mismatch' });
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < offset; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, offset - pos), pos);
      if (bytesRead === 0) break;
      hash!.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    if (hash!.copy().digest('hex') !== prefixSha256) throw new ConflictError('the first bytes of the upload differ from what the agent holds: start again from 0', { detail: 'resume_mismatch' });
    await fh.truncate(offset);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Writes the stream's bytes at `offset` on; resolves with the final size at a clean end, or
 * null if the stream was cut. Chunks that arrive while a write runs go out in one writev, and
 * credit is granted only once the disk has them.
 */
function receive(stream: Stream, fh: FileHandle, offset: number, hash: Hash | null, user: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    let pos = offset;
    let queue: Uint8Array[] = [];
    let writing = false;
    let ended = false;
    let failed = false;
    const pump = () => {
      if (writing || failed) return;
      if (queue.length === 0) {
        if (ended) resolve(pos);
        return;
      }
      const batch = queue;
      queue = [];
      writing = true;
      fh.writev(batch, pos).then(
        ({ bytesWritten }) => {
          writing = false;
          pos += bytesWritten;
          stream.consume(bytesWritten);
          // A short write (a disk filling up) leaves the rest for the next writev, which then fails with ENOSPC.
          queue = [...unwritten(batch, bytesWritten), ...queue];
          pump();
        },
        (err) => {
          failed = true;
          reject(fsError(err, user));
        },
      );
    };
    stream.handle({
      onData: (chunk) => {
        hash?.update(chunk);
        queue.push(chunk);
        pump();
      },
      onEnd: () => {
        ended = true;
        pump();
      },
      onClose: (err) => {
        if (err && !failed) {
          failed = true;
          resolve(null);
        }
      },
    });
  });
}

/** What is left of `batch` after the first `n` bytes were written. */
function unwritten(batch: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of batch) {
    if (n >= c.length) {
      n -= c.length;
      continue;
    }
    out.push(n > 0 ? c.subarray(n) : c);
    n = 0;
  }
  return out;
}

async function commit(temp: string, r: ResolvedPath, overwrite: boolean): Promise<void> {
  if (overwrite) return onPath(r.user, () => rename(temp, r.path));
  // link() fails with EEXIST if the destination appeared meanwhile: never clobber it.
  await onPath(r.user, () => link(temp, r.path));
  await unlink(temp);
}

/**
 * The same atomic commit for bytes already in memory (the AI's write_file): temp beside the
 * destination, fsync, mode, rename, directory fsync, all under the same jail checks.
 */
export async function writeBuffer(policy: FilesPolicy, path: string, data: Uint8Array, o: { overwrite: boolean; createParents?: boolean }): Promise<{ path: string; size: number }> {
  const { r, dir, existing } = await prepareDestination(policy, path, o);
  const pin = await policy.pinDir(dir, r.user);
  const temp = { user: r.user, path: pin.at(basename(tempPath(r.path))) };
  let fh: FileHandle | null = null;
  let committed = false;
  try {
    fh = await openTemp(policy, temp, 0, '', null);
    const h = fh;
    await onPath(r.user, () => h.writeFile(data));
    await fh.sync();
    await fh.chmod(existing ? existing.mode & 0o7777 : 0o644);
    await fh.close();
    await commit(temp.path, { user: r.user, path: pin.at(basename(r.path)) }, o.overwrite);
    committed = true;
    await pin.sync();
    return { path: r.path, size: data.length };
  } finally {
    await fh?.close().catch(() => {});
    if (!committed) await unlink(temp.path).catch(() => {});
    await pin.close();
  }
}

