/** The metadata and tree operations: list, info, delete, mkdir, copy, move. */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, cp, lstat, mkdir, open, readlink, rename, rm, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AlreadyExistsError, IsADirectoryError, ValidationError } from '../../errors.js';
import type { cmdop } from '../../protocol/gen/cmdop.js';
import { entryFromStats } from './entry.js';
import { fsError, onPath } from '../../fs-errors.js';
import { O_NOFOLLOW, type FilesPolicy, type ResolvedPath } from './policy.js';
import { walk } from './walk.js';

export const DEFAULT_LIST_LIMIT = 1000;
export const MAX_LIST_LIMIT = 10_000;

export async function list(policy: FilesPolicy, req: cmdop.v1.ListFilesRequest): Promise<cmdop.v1.IListFilesResponse> {
  const r = await policy.resolve(req.path || '~', true);
  const st = await onPath(r.user, () => stat(r.path));
  if (!st.isDirectory()) return { entries: [await entryFromStats(r.path, st)], nextCursor: '' };
  const limit = Math.min(req.limit || DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
  const after = req.cursor ? decodeCursor(req.cursor) : undefined;
  const entries: cmdop.v1.IFileEntry[] = [];
  let last = '';
  let more = false;
  await onPath(r.user, async () => {
    for await (const e of walk(r.path, { recursive: req.recursive, hidden: req.hidden, after, guard: policy.guard })) {
      if (entries.length === limit) {
        more = true;
        break;
      }
      entries.push(await entryFromStats(e.path, e.stats, req.recursive ? e.rel : e.name));
      last = e.rel;
    }
  });
  return { entries, nextCursor: more ? encodeCursor(last) : '' };
}

const encodeCursor = (rel: string) => Buffer.from(rel, 'utf8').toString('base64url');
function decodeCursor(c: string): string {
  const rel = Buffer.from(c, 'base64url').toString('utf8');
  if (!rel || rel.startsWith('/') || rel.split('/').includes('..')) throw new ValidationError('invalid list cursor');
  return rel;
}

/** Metadata of a path (a final symlink is followed; list shows links as links). */
export async function info(policy: FilesPolicy, req: cmdop.v1.FilePathRequest): Promise<cmdop.v1.IFileEntry> {
  const r = await policy.resolve(req.path, true);
  const st = await onPath(r.user, () => stat(r.path));
  const e = await entryFromStats(r.path, st);
  if (req.hash) {
    if (req.hash !== 'sha256') throw new ValidationError(`unknown hash ${req.hash} (sha256 is supported)`);
    if (!st.isFile()) throw new IsADirectoryError(`${r.user}: only regular files can be hashed`);
    e.sha256 = await hashFile(policy, r);
  }
  return e;
}

/** SHA-256 of a whole file, opened without following a final symlink and checked against the jail. */
export async function hashFile(policy: FilesPolicy, r: ResolvedPath, length?: number): Promise<string> {
  const h = createHash('sha256');
  await onPath(r.user, async () => {
    const fh = await open(r.path, constants.O_RDONLY | O_NOFOLLOW);
    try {
      await policy.verifyOpen(fh.fd, r);
      policy.checkLinks(await fh.stat(), r.user);
      await pipeline(fh.createReadStream({ autoClose: false, highWaterMark: 1 << 20, ...(length !== undefined ? { end: length - 1 } : {}) }), h);
    } finally {
      await fh.close();
    }
  });
  return h.digest('hex');
}

export async function remove(policy: FilesPolicy, req: cmdop.v1.FilePathRequest): Promise<void> {
  const r = await policy.resolveForWrite(req.path);
  await onPath(r.user, async () => {
    const st = await lstat(r.path);
    if (!st.isDirectory()) return unlink(r.path);
    if (req.recursive) return rm(r.path, { recursive: true });
    return rmdir(r.path);
  });
}

export async function makeDir(policy: FilesPolicy, req: cmdop.v1.FilePathRequest): Promise<cmdop.v1.IFileEntry> {
  const r = await policy.resolveForWrite(req.path);
  await onPath(r.user, async () => {
    if (!req.parents) return void (await mkdir(r.path));
    await mkdir(r.path, { recursive: true });
    const st = await stat(r.path);
    if (!st.isDirectory()) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
  });
  // A parent swapped for a symlink between check and mkdir would show here.
  await policy.resolve(req.path, true);
  return entryFromStats(r.path, await stat(r.path));
}

export async function copy(policy: FilesPolicy, req: cmdop.v1.CopyFileRequest): Promise<cmdop.v1.IFileEntry> {
  const src = await policy.resolve(req.src, true);
  const dst = await policy.resolveForWrite(req.dst);
  const st = await onPath(src.user, () => stat(src.path));
  policy.checkLinks(st, src.user);
  const existing = await lstat(dst.path).catch(() => null);
  if (existing && !req.overwrite) throw new AlreadyExistsError(`${dst.user}: already exists`);
  if (st.isDirectory()) {
    if (!req.recursive) throw new IsADirectoryError(`${src.user}: is a directory (copy it with recursive)`);
    if (existing && !existing.isDirectory()) throw fsError(Object.assign(new Error(), { code: 'ENOTDIR' }), dst.user);
    await onPath(dst.user, () => copyTree(policy, src, dst, true, req.overwrite));
  } else {
    if (existing?.isDirectory()) throw new IsADirectoryError(`${dst.user}: is a directory`);
    // Atomic like write: copy beside the destination, keep mode and mtime, then rename over it.
    const tmp = tempPath(dst.path);
    try {
      await onPath(src.user, () => copyFile(src.path, tmp));
      await chmod(tmp, st.mode & 0o7777);
      await utimes(tmp, st.atime, st.mtime);
      await onPath(dst.user, () => rename(tmp, dst.path));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw fsError(err, dst.user);
    }
  }
  return entryFromStats(dst.path, await lstat(dst.path));
}

export async function move(policy: FilesPolicy, req: cmdop.v1.CopyFileRequest): Promise<cmdop.v1.IFileEntry> {
  const src = await policy.resolveForWrite(req.src);
  const dst = await policy.resolveForWrite(req.dst);
  const st = await onPath(src.user, () => lstat(src.path));
  if (!req.overwrite && (await lstat(dst.path).catch(() => null))) throw new AlreadyExistsError(`${dst.user}: already exists`);
  try {
    await rename(src.path, dst.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw fsError(err, (err as NodeJS.ErrnoException).code === 'ENOENT' ? src.user : dst.user);
    // Another device: copy (preserving mode, times and links), then delete the source.
    await onPath(dst.user, () => copyTree(policy, src, dst, st.isDirectory(), req.overwrite));
    await onPath(src.user, () => rm(src.path, { recursive: true }));
  }
  return entryFromStats(dst.path, await lstat(dst.path));
}

/**
 * Copies a file or tree keeping modes, times and symlinks as links (never followed). Under a jail
 * each entry is checked before it is copied: no hard-linked file's content (see mayRead), and no
 * symlink that would lead outside the roots from where the copy puts it (a relative link can).
 */
function copyTree(policy: FilesPolicy, src: ResolvedPath, dst: ResolvedPath, recursive: boolean, overwrite: boolean): Promise<void> {
  const filter = async (from: string, to: string): Promise<boolean> => {
    if (!policy.jailed) return true;
    const st = await lstat(from);
    const user = join(src.user, relative(src.path, from));
    if (st.isSymbolicLink()) policy.checkNewLink(to, await readlink(from), user);
    else policy.checkLinks(st, user);
    return true;
  };
  return cp(src.path, dst.path, { recursive, force: overwrite, errorOnExist: !overwrite, preserveTimestamps: true, verbatimSymlinks: true, filter });
}

/** A hidden, unique temp name beside `path` (same directory, so rename is atomic). */
export function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.cmdop-tmp-${randomBytes(6).toString('hex')}`);
}
