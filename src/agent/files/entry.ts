/** File metadata as the wire carries it (FileEntry), from an lstat. */
import type { Stats } from 'node:fs';
import { lstat, readlink, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { cmdop } from '../../protocol/gen/cmdop.js';

const T = cmdop.v1.FileType;

export function fileType(st: Stats): cmdop.v1.FileType {
  if (st.isFile()) return T.FILE;
  if (st.isDirectory()) return T.DIR;
  if (st.isSymbolicLink()) return T.SYMLINK;
  return T.OTHER;
}

let users: Map<number, string> | null = null;

/** User name for a uid, from /etc/passwd (read once); empty when unknown or not on Unix. */
export function ownerName(uid: number): string {
  if (process.platform === 'win32') return '';
  if (!users) {
    users = new Map();
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length > 2 && f[0]) users.set(Number(f[2]), f[0]);
      }
    } catch {
      // no passwd file (macOS keeps users in Directory Services): owner stays empty, uid is set
    }
  }
  return users.get(uid) ?? '';
}

export async function entryFromStats(path: string, st: Stats, name = basename(path)): Promise<cmdop.v1.IFileEntry> {
  const e: cmdop.v1.IFileEntry = {
    name,
    path,
    type: fileType(st),
    size: st.isDirectory() ? 0 : st.size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    owner: ownerName(st.uid),
    mtimeMs: Math.floor(st.mtimeMs),
  };
  if (st.isSymbolicLink()) e.target = await readlink(path).catch(() => '');
  return e;
}

/** The entry of `path` itself (a symlink is described as a symlink, with its target). */
export async function entryOf(path: string, follow = false): Promise<cmdop.v1.IFileEntry> {
  return entryFromStats(path, follow ? await stat(path) : await lstat(path));
}
