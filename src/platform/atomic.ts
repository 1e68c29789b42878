/**
 * Files written whole, so that a crash (or a power cut, once `durable`) leaves either the old or
 * the new content, never a torn one: a temp beside the file, fsync, rename, then fsync of the
 * directory so the rename itself is on disk. Used for every small state file (identity key,
 * enrolment, PIN, indexes, configs, the client profile).
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode (default 0600: these files hold state and secrets). */
  mode?: number;
  /** fsync the file and its directory (default true; false for files a restart rewrites anyway). */
  durable?: boolean;
}

export function writeFileAtomic(path: string, content: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  const mode = o.mode ?? 0o600;
  const fd = openSync(tmp, 'wx', mode);
  try {
    if (process.platform !== 'win32') fchmodSync(fd, mode); // exactly this mode, whatever the umask
    const buf = typeof content === 'string' ? Buffer.from(content) : content;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    if (o.durable !== false) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (o.durable !== false) syncDirSync(dirname(path));
}

/** fsync a directory (its entries' renames reach the disk). Windows cannot open a directory: skipped. */
export function syncDirSync(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    closeSync(fd);
  }
}

/** A JSON file's content, or null if it is missing or unreadable. */
export function readJsonFile<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}
