/**
 * Where file operations may reach. Optional root jails and a read-only mode (agent config).
 * Under a jail every path is resolved with realpath and must land inside a root: `..`, absolute
 * paths elsewhere and symlinks pointing out are refused. Files are opened without following a
 * final symlink where the platform allows (O_NOFOLLOW), and the open descriptor is checked again
 * (/proc/self/fd on Linux, dev+inode elsewhere) so that a path swapped in between check and open
 * is caught. Under a jail a regular file with more than one hard link is not read (another name
 * for it may lie outside), unless config allows it; uploads create and rename their files inside a
 * pinned directory (Linux), so a directory swapped for a symlink cannot make them land outside.
 */
import { constants, realpathSync, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath, stat } from 'node:fs/promises';
import { fstat as fstatCb } from 'node:fs';
import { promisify } from 'node:util';

const fstat = promisify(fstatCb);
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { PermissionError, ValidationError } from '../../errors.js';
import { fsError } from '../../fs-errors.js';

export interface FilesPolicyOptions {
  /** Jail roots; empty = the whole filesystem (as far as the agent's user may go). */
  roots: string[];
  readOnly: boolean;
  /** Under a jail, read regular files that have more than one hard link (default false). */
  allowHardlinks?: boolean;
  /** Where "~" and relative paths start when there is no jail (default: the agent user's home). */
  home?: string;
}

/** A directory held open so that names are created and renamed in exactly it (see pinDir). */
export interface PinnedDir {
  /** A path for `name` inside the pinned directory. */
  at(name: string): string;
  /** fsync the directory (its renames survive a crash). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface ResolvedPath {
  /** What the user asked for, for messages. */
  user: string;
  /** Absolute path to operate on: under a jail, the real (symlink-free) parent plus the final name. */
  path: string;
}

/** O_NOFOLLOW where the platform has it (not on Windows). */
export const O_NOFOLLOW: number = constants.O_NOFOLLOW ?? 0;

export class FilesPolicy {
  readonly roots: string[];
  readonly readOnly: boolean;
  readonly allowHardlinks: boolean;
  private readonly home: string;

  constructor(o: FilesPolicyOptions) {
    this.roots = o.roots.map((r) => {
      try {
        return realpathSync(resolve(r));
      } catch {
        throw new ValidationError(`files root ${r} does not exist`);
      }
    });
    this.readOnly = o.readOnly;
    this.allowHardlinks = o.allowHardlinks ?? false;
    this.home = o.home ?? homedir();
  }

  get jailed(): boolean {
    return this.roots.length > 0;
  }

  /** The absolute form of a user path: "~" expanded, relative paths from home (or the first root). */
  absolute(p: string): string {
    if (typeof p !== 'string' || p.length === 0) throw new ValidationError('a path is required');
    if (p.includes('\0')) throw new ValidationError('a path may not contain NUL bytes');
    if (p === '~') return this.home;
    if (p.startsWith('~/')) return join(this.home, p.slice(2));
    if (isAbsolute(p)) return resolve(p);
    return resolve(this.roots[0] ?? this.home, p);
  }

  /**
   * Resolves a user path for an operation. `follow` resolves a final symlink too (read, list,
   * info of the target); without it the final name is kept (delete, rename, lstat).
   */
  async resolve(p: string, follow: boolean): Promise<ResolvedPath> {
    const abs = this.absolute(p);
    if (!this.jailed) return { user: p, path: abs };
    let real: string;
    try {
      real = follow ? await realpathNearest(abs) : join(await realpathNearest(dirname(abs)), basename(abs));
    } catch (err) {
      throw fsError(err, p);
    }
    if (!this.inside(real)) throw outside(p);
    return { user: p, path: real };
  }

  /** Resolves a path that will be changed: refuses in read-only mode. */
  async resolveForWrite(p: string, follow = false): Promise<ResolvedPath> {
    if (this.readOnly) throw new PermissionError(`${p}: this agent's files are read-only`, { detail: 'read_only' });
    const r = await this.resolve(p, follow);
    if (this.jailed && this.roots.includes(r.path)) throw new PermissionError(`${p}: a files root itself cannot be changed`, { detail: 'outside_jail' });
    return r;
  }

  /** Whether a real path is inside a root (always true without a jail). */
  inside(real: string): boolean {
    if (!this.jailed) return true;
    return this.roots.some((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep));
  }

  /**
   * Whether the content of this entry may be exposed: under a jail, not a regular file with more
   * than one hard link (a link made inside the root to a file outside it would leak that file).
   */
  mayRead(st: Pick<Stats, 'nlink' | 'isFile'>): boolean {
    return !this.jailed || this.allowHardlinks || !st.isFile() || st.nlink <= 1;
  }

  /** Throws PermissionError (detail `hardlink`) unless mayRead. */
  checkLinks(st: Pick<Stats, 'nlink' | 'isFile'>, user: string): void {
    if (!this.mayRead(st)) throw new PermissionError(`${user}: has ${st.nlink} hard links, and this agent's jailed files refuse those (another name for it may be outside the roots)`, { detail: 'hardlink' });
  }

  /** Throws PermissionError unless a symlink created at `linkPath` with `target` stays inside the jail. */
  checkNewLink(linkPath: string, target: string, user: string): void {
    if (!this.jailed) return;
    if (!this.inside(resolve(dirname(linkPath), target))) throw new PermissionError(`${user}: a symbolic link to ${target} there would lead outside this agent's allowed file roots`, { detail: 'outside_jail' });
  }

  /**
   * Holds `dir` open and names files through the descriptor (/proc/self/fd/N/name, which the
   * kernel resolves like openat: the directory the descriptor has, whatever its path is now).
   * Under a jail on Linux the descriptor is checked to be inside a root first. Elsewhere, names
   * are plain paths in `dir`.
   */
  async pinDir(dir: string, user: string): Promise<PinnedDir> {
    if (!this.jailed || process.platform !== 'linux') {
      return { at: (name) => join(dir, name), sync: () => syncPath(dir), close: async () => undefined };
    }
    const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | O_NOFOLLOW).catch((err: unknown) => {
      throw (err as NodeJS.ErrnoException).code === 'ELOOP' ? outside(user) : fsError(err, user);
    });
    const actual = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => '');
    if (!this.inside(actual)) {
      await fh.close();
      throw outside(user);
    }
    return { at: (name) => `/proc/self/fd/${fh.fd}/${name}`, sync: () => fh.sync().catch(() => undefined), close: () => fh.close() };
  }

  /** For tree walks: whether a directory still resolves inside the jail (it may have been swapped for a link). */
  readonly guard = async (dir: string): Promise<boolean> => !this.jailed || this.inside(await realpath(dir).catch(() => ''));

  /**
   * After open: checks that the descriptor really is inside the jail (a symlink or directory
   * swapped in after the path check is caught here). No-op without a jail.
   */
  async verifyOpen(fd: number, r: ResolvedPath): Promise<void> {
    if (!this.jailed) return;
    if (process.platform === 'linux') {
      const actual = await readlink(`/proc/self/fd/${fd}`).catch(() => null);
      if (actual !== null && !actual.endsWith(' (deleted)')) {
        if (!this.inside(actual)) throw outside(r.user);
        return;
      }
    }
    const [a, b] = await Promise.all([fstat(fd), stat(r.path).catch(() => null)]);
    if (!b || a.ino !== b.ino || a.dev !== b.dev || !this.inside(await realpath(r.path))) throw outside(r.user);
  }
}

/** fsync a directory by path, where the platform can (not on Windows). */
async function syncPath(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const d = await open(dir, 'r').catch(() => null);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close();
}

export function outside(p: string): PermissionError {
  return new PermissionError(`${p}: outside this agent's allowed file roots`, { detail: 'outside_jail' });
}

/** realpath of the deepest existing ancestor, plus the names below it that do not exist yet. */
async function realpathNearest(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // A name that exists but does not resolve is a dangling symlink: where it would lead is unknowable, so refuse.
    if (await lstat(p).then(() => true, () => false)) throw new PermissionError(`${p}: dangling symbolic link`, { detail: 'outside_jail' });
    const parent = dirname(p);
    if (parent === p) throw err;
    return join(await realpathNearest(parent), basename(p));
  }
}
