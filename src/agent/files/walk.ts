/**
 * A depth-first walk of a directory tree in a stable order (names sorted at each level), that
 * can start after a given relative path. Symlinks are reported, never followed, so a walk stays
 * inside the tree it started in. Shared by list, search and archive.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface WalkEntry {
  path: string;
  /** Path relative to the walk's root, "/"-separated. */
  rel: string;
  name: string;
  stats: Stats;
}

export interface WalkOptions {
  recursive: boolean;
  hidden: boolean;
  /** Resume strictly after this relative path (as returned in `rel`). */
  after?: string;
  /** Checked before each subdirectory is read (the jail's re-check against swapped-in symlinks). */
  guard?: (dir: string) => Promise<boolean>;
}

export async function* walk(root: string, o: WalkOptions): AsyncGenerator<WalkEntry> {
  yield* walkDir(root, '', o, o.after ? o.after.split('/') : null);
}

async function* walkDir(dir: string, prefix: string, o: WalkOptions, after: string[] | null): AsyncGenerator<WalkEntry> {
  let names = await readdir(dir);
  if (!o.hidden) names = names.filter((n) => !n.startsWith('.'));
  names.sort();
  for (const name of names) {
    let skipSelf = false;
    let childAfter: string[] | null = null;
    if (after) {
      const head = after[0]!;
      if (name < head) continue;
      if (name === head) {
        skipSelf = true;
        childAfter = after.length > 1 ? after.slice(1) : null;
      }
      after = null; // every later sibling is past the cursor
    }
    const path = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch {
      continue; // vanished since readdir
    }
    if (!skipSelf) yield { path, rel, name, stats };
    if (o.recursive && stats.isDirectory()) {
      if (o.guard && !(await o.guard(path))) continue;
      try {
        yield* walkDir(path, rel, o, childAfter);
      } catch (err) {
        // An unreadable or vanished subdirectory ends that branch, not the walk.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      }
    }
  }
}
