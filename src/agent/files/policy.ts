/**
 * Where file operations may reach. Optional root jails and a read-only mode (agent config).
 * Under a jail every path is resolved with realpath and must land inside a root: `..`, absolute
 * paths elsewhere and symlinks pointing out are refused. Files are opened without following a
 * final symlink where the platform allows (O_NOFOLLOW), and the open descriptor is checked again
 * (/proc/self/fd on Linux, dev+inode elsewhere) so that a path swapped in between check and open
 * is caught.
 */
import { constants, realpathSync } from 'node:fs';
import { lstat, readlink, realpath, stat } from 'node:fs/promises';
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
  /** Where "~" and relative paths start when there is no jail (default: the agent user's home). */
  home?: string;
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
