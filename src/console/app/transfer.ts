/**
 * Uploads and downloads in the browser, over the page's link, streamed in both directions:
 * an upload reads the File a megabyte at a time and waits for the link's room (so a 4 GiB file
 * never sits in memory); a download gathers chunks into Blob parts (which Chromium spills to
 * disk) and hands the browser one Blob to save. Uploads resume as the CLI's do: the agent keeps
 * an interrupted upload's partial, and we continue from it once its SHA-256 matches our prefix.
 */
import type { FilesCore } from '../../client/files-core.js';
import type { FileEntry, WriteResult } from '../../client/files-types.js';

export const CHUNK = 1024 * 1024;
/** Received bytes are moved into a Blob part every this many bytes (out of the JS heap). */
const BLOB_PART = 16 * 1024 * 1024;
/** A prefix longer than this is not hashed in the tab (SubtleCrypto digests whole buffers): the upload starts over. */
export const MAX_RESUME_HASH = 1024 * 1024 * 1024;

export type OnProgress = (done: number, total: number) => void;

async function sha256Hex(blob: Blob): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Where to continue an upload of `file` to `path`: the agent's partial, if it is a prefix of this file. */
export async function resumePoint(files: FilesCore, file: Blob, path: string): Promise<{ offset: number; prefixSha256: string }> {
  const held = await files.uploadStatus(path);
  if (held.offset > 0 && held.offset <= file.size && held.offset <= MAX_RESUME_HASH && (await sha256Hex(file.slice(0, held.offset))) === held.sha256) {
    return { offset: held.offset, prefixSha256: held.sha256 };
  }
  return { offset: 0, prefixSha256: '' };
}

export async function upload(files: FilesCore, file: File, path: string, onProgress: OnProgress): Promise<WriteResult & { resumedAt: number }> {
  const { offset, prefixSha256 } = await resumePoint(files, file, path);
  let done = offset;
  onProgress(done, file.size);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let at = offset; at < file.size; at += CHUNK) {
      const c = new Uint8Array(await file.slice(at, at + CHUNK).arrayBuffer());
      yield c;
      done += c.length;
      onProgress(done, file.size);
    }
  }
  const r = await files.writeChunks(path, chunks(), { resumable: true, offset, prefixSha256, overwrite: true });
  return { ...r, resumedAt: offset };
}

export async function download(files: FilesCore, entry: FileEntry, onProgress: OnProgress): Promise<Blob> {
  const parts: Blob[] = [];
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let done = 0;
  onProgress(0, entry.size);
  for await (const c of await files.readChunks(entry.path)) {
    pending.push(c);
    pendingBytes += c.length;
    done += c.length;
    onProgress(done, entry.size);
    if (pendingBytes >= BLOB_PART) {
      parts.push(new Blob(pending as BlobPart[]));
      pending = [];
      pendingBytes = 0;
    }
  }
  parts.push(new Blob(pending as BlobPart[]));
  return new Blob(parts, { type: 'application/octet-stream' });
}

/** Hands a Blob to the browser as a download named `name`. */
export function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
