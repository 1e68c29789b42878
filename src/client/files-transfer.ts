/**
 * Local file <-> machine file transfers with progress and resume. Uploads resume once the
 * machine and this side agree on the SHA-256 of the prefix the machine holds; downloads go to a
 * hidden partial beside the destination and are renamed over it only when complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IsADirectoryError } from '../errors.js';
import { onPath } from '../fs-errors.js';
import type { Files } from './files.js';
import { filePieces } from '../link/file-pieces.js';
import type { WriteOptions, WriteResult } from './files-types.js';

export type Progress = (done: number, total: number) => void;

export interface UploadOptions extends WriteOptions {
  /** Continue an interrupted upload of the same file (checked by hash; else starts over). */
  resume?: boolean;
  onProgress?: Progress;
}

export interface DownloadOptions {
  /** Continue a cut download from the partial file beside the destination. */
  resume?: boolean;
  /** Keep the partial file if the download is cut, for a later resume (default false). */
  resumable?: boolean;
  onProgress?: Progress;
}

/** SHA-256 of the first `length` bytes of a local file. */
export async function hashPrefix(path: string, length: number): Promise<string> {
  const h = createHash('sha256');
  if (length > 0) await pipeline(createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 }), h);
  return h.digest('hex');
}

export async function upload(files: Files, localPath: string, remotePath: string, o: UploadOptions): Promise<WriteResult> {
  const st = await onPath(localPath, () => stat(localPath));
  if (st.isDirectory()) throw new IsADirectoryError(`${localPath}: is a directory`);
  let offset = 0;
  let prefixSha256 = '';
  if (o.resume) {
    const held = await files.uploadStatus(remotePath);
    if (held.offset > 0 && held.offset <= st.size && (await hashPrefix(localPath, held.offset)) === held.sha256) {
      offset = held.offset;
      prefixSha256 = held.sha256;
    }
  }
  // Frame-ready pieces (link/file-pieces.ts): no copy between the disk and the socket.
  const src = filePieces(localPath, offset);
  // Progress is counted as chunks are taken, never with a 'data' listener: that would make the
  // file flow past the link's backpressure into memory.
  const report = o.onProgress;
  let done = offset;
  report?.(done, st.size);
  const chunks = report
    ? (async function* () {
        for await (const c of src) {
          yield c;
          report((done += c.length), st.size);
        }
      })()
    : src;
  const { resume: _r, onProgress: _p, ...write } = o;
  return files.write(remotePath, chunks, { mode: st.mode & 0o777, ...write, resumable: o.resumable ?? true, offset, prefixSha256 });
}

/** The hidden partial a download to `path` writes before it is complete. */
export function downloadPartial(path: string): string {
  return join(dirname(path), `.${basename(path)}.cmdop-part`);
}

export async function download(files: Files, remotePath: string, localPath: string, o: DownloadOptions): Promise<{ size: number; path: string }> {
  const info = await files.info(remotePath);
  if (info.type === 'dir') throw new IsADirectoryError(`${remotePath}: is a directory`);
  const part = downloadPartial(localPath);
  let offset = o.resume ? ((await stat(part).catch(() => null))?.size ?? 0) : 0;
  if (offset > info.size) offset = 0;
  const src = await files.readStream(remotePath, { offset });
  if (o.onProgress) {
    let done = offset;
    const report = o.onProgress;
    report(done, info.size);
    src.on('data', (c: Buffer) => report((done += c.length), info.size));
  }
  try {
    const out = createWriteStream(part, { flags: offset ? 'r+' : 'w', start: offset, mode: info.mode || 0o644, highWaterMark: 4 << 20 });
    await onPath(localPath, () => pipeline(src, out));
    // Renamed into place only when complete. Not fsynced (like scp and rsync): the machine's
    // copy is the durable one, and an fsync of a large file costs ~0.4 s per GiB here.
    await onPath(localPath, () => rename(part, localPath));
  } catch (err) {
    if (!(o.resumable || o.resume)) await unlink(part).catch(() => {});
    throw err;
  }
  return { size: info.size, path: localPath };
}
