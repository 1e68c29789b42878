/** Types of `client.files`: entries and options, in SDK shape (camelCase, Dates, plain strings). */
import { cmdop } from '../protocol/gen/cmdop.js';

export type FileKind = 'file' | 'dir' | 'symlink' | 'other';

export interface FileEntry {
  name: string;
  /** Absolute path on the machine. */
  path: string;
  type: FileKind;
  size: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  uid: number;
  gid: number;
  /** User name, when the agent could look it up. */
  owner: string;
  mtime: Date;
  /** Symlink target, as stored in the link. */
  target?: string;
  /** Only from info(path, { hash: 'sha256' }). */
  sha256?: string;
}

export interface ListOptions {
  recursive?: boolean;
  hidden?: boolean;
  /** Entries per page (default 1000, at most 10000). */
  limit?: number;
  cursor?: string;
}

export interface ListPage {
  entries: FileEntry[];
  /** Pass as `cursor` for the next page; undefined on the last one. */
  nextCursor?: string;
}

export interface ReadOptions {
  offset?: number;
  length?: number;
}

export interface WriteOptions {
  /** Permission bits of the new file (default: keep the old file's, else 0o644). */
  mode?: number;
  createParents?: boolean;
  /** Replace an existing file (default true). With false, an existing file is an AlreadyExistsError. */
  overwrite?: boolean;
  /** Keep the partial upload on the machine if the transfer is cut, for resume (default false). */
  resumable?: boolean;
  /** Have the agent compute the SHA-256 of the written file. */
  hash?: boolean;
}

export interface WriteResult {
  size: number;
  path: string;
  sha256?: string;
}

export interface SearchOptions {
  glob?: string;
  name?: string;
  content?: string;
  limit?: number;
  hidden?: boolean;
}

export interface SearchMatch {
  entry: FileEntry;
  line?: number;
  text?: string;
}

export interface WatchEvent {
  type: 'add' | 'change' | 'unlink' | 'addDir' | 'unlinkDir' | 'ready' | 'overflow';
  path: string;
}

const KIND: Record<number, FileKind> = {
  [cmdop.v1.FileType.FILE]: 'file',
  [cmdop.v1.FileType.DIR]: 'dir',
  [cmdop.v1.FileType.SYMLINK]: 'symlink',
};

export function toFileEntry(e: cmdop.v1.IFileEntry): FileEntry {
  const out: FileEntry = {
    name: e.name ?? '',
    path: e.path ?? '',
    type: KIND[e.type ?? 0] ?? 'other',
    size: Number(e.size ?? 0),
    mode: e.mode ?? 0,
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    owner: e.owner ?? '',
    mtime: new Date(Number(e.mtimeMs ?? 0)),
  };
  if (e.target) out.target = e.target;
  if (e.sha256) out.sha256 = e.sha256;
  return out;
}
