/**
 * `client.files`: the filesystem of the chosen machine. Reads and writes stream under flow
 * control (Buffers or Node streams); writes are atomic on the machine; uploads can resume.
 *
 * @example
 * client.terminal.setMachine('web-1');            // files follow the same machine
 * await client.files.write('/etc/app/config.yml', yaml);
 * const log = await client.files.read('/var/log/app/error.log');
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cmdop } from '../protocol/gen/cmdop.js';
import { MAX_UNARY_RESPONSE } from '../protocol/limits.js';
import type { Stream } from '../protocol/stream.js';
import { readAll } from '../link/call.js';
import { readableFrom, writableTo } from '../link/node-streams.js';
import { asCmdopError } from '../errors.js';
import type { Caller } from './caller.js';
import type { MachineTarget } from './target.js';
import { FileWatch } from './files-watch.js';
import { toFileEntry, type FileEntry, type ListOptions, type ListPage, type ReadOptions, type SearchMatch, type SearchOptions, type WriteOptions, type WriteResult } from './files-types.js';
import { download, upload, type DownloadOptions, type UploadOptions } from './files-transfer.js';

const v1 = cmdop.v1;
/** Receive window of a download: enough in flight to keep a long link busy. */
export const FILE_WINDOW = 16 * 1024 * 1024;

export class Files {
  constructor(private readonly caller: Caller, private readonly machine: MachineTarget) {}

  /** Same as `client.terminal.setMachine`: the machine both namespaces talk to. */
  setMachine(m: string | { machineId: string }): void {
    this.machine.set(m);
  }

  private async unary(method: string, req: Uint8Array): Promise<Uint8Array> {
    return this.caller.unary(this.machine.get(), 'files', method, req);
  }

  /** @internal Opens a files stream (transfers use it). */
  open(method: string, req: Uint8Array, end: boolean): Promise<Stream> {
    return this.caller.open({ target: this.machine.get(), service: 'files', method, request: req, end, window: FILE_WINDOW });
  }

  /** One page of a directory listing (a file lists as itself). */
  async list(path: string, o: ListOptions = {}): Promise<ListPage> {
    const req = v1.ListFilesRequest.encode({ path, recursive: o.recursive ?? false, hidden: o.hidden ?? false, limit: o.limit ?? 0, cursor: o.cursor ?? '' }).finish();
    const res = v1.ListFilesResponse.decode(await this.unary('list', req));
    return { entries: res.entries.map(toFileEntry), ...(res.nextCursor ? { nextCursor: res.nextCursor } : {}) };
  }

  /** Every entry, page after page. */
  async *iter(path: string, o: Omit<ListOptions, 'cursor'> = {}): AsyncGenerator<FileEntry> {
    for await (const page of this.pages(path, o)) yield* page;
  }

  /** The listing a page (an array of entries) at a time. */
  async *pages(path: string, o: Omit<ListOptions, 'cursor'> = {}): AsyncGenerator<FileEntry[]> {
    let cursor: string | undefined;
    do {
      const page = await this.list(path, { ...o, ...(cursor ? { cursor } : {}) });
      yield page.entries;
      cursor = page.nextCursor;
    } while (cursor);
  }

  async info(path: string, o: { hash?: 'sha256' } = {}): Promise<FileEntry> {
    return toFileEntry(v1.FileEntry.decode(await this.unary('info', v1.FilePathRequest.encode({ path, hash: o.hash ?? '' }).finish())));
  }

  /** The file's bytes in memory; over `maxBytes` (default 16 MiB) it is a FileTooLargeError: use readStream. */
  async read(path: string, o: ReadOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const maxBytes = o.maxBytes ?? MAX_UNARY_RESPONSE;
    const stream = await this.open('read', readRequest(path, o, maxBytes), true);
    return Buffer.from(await readAll(stream, { timeoutMs: this.caller.timeoutMs + maxBytes / 10_000, maxBytes }));
  }

  /** The file's bytes as a Node stream (constant memory for any size). */
  async readStream(path: string, o: ReadOptions = {}): Promise<Readable> {
    return readableFrom(await this.open('read', readRequest(path, o, 0), true));
  }

  /** Writes a file atomically (temp + fsync + rename on the machine) from a Buffer, a string or a Node stream. */
  async write(path: string, data: string | Uint8Array | Readable, o: WriteOptions & { offset?: number; prefixSha256?: string } = {}): Promise<WriteResult> {
    const req = v1.WriteFileRequest.encode({
      path,
      mode: o.mode ?? 0,
      createParents: o.createParents ?? false,
      overwrite: o.overwrite ?? true,
      resumable: o.resumable ?? false,
      offset: o.offset ?? 0,
      prefixSha256: o.prefixSha256 ?? '',
      hash: o.hash ?? false,
    }).finish();
    const stream = await this.open('write', req, false);
    return sendUpload(stream, typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** How much of an interrupted resumable upload to `path` the machine holds. */
  async uploadStatus(path: string): Promise<{ offset: number; sha256: string }> {
    const s = v1.UploadStatus.decode(await this.unary('upload_status', v1.FilePathRequest.encode({ path }).finish()));
    return { offset: Number(s.offset), sha256: s.sha256 };
  }

  /** Uploads a local file; with `resume`, continues an interrupted upload after checking the prefix hash. */
  upload(localPath: string, remotePath: string, o: UploadOptions = {}): Promise<WriteResult> {
    return upload(this, localPath, remotePath, o);
  }

  /** Downloads to a local file atomically (temp + rename); with `resume`, continues a cut download. */
  download(remotePath: string, localPath: string, o: DownloadOptions = {}): Promise<{ size: number; path: string }> {
    return download(this, remotePath, localPath, o);
  }

  async delete(path: string, o: { recursive?: boolean } = {}): Promise<void> {
    await this.unary('delete', v1.FilePathRequest.encode({ path, recursive: o.recursive ?? false }).finish());
  }

  async mkdir(path: string, o: { parents?: boolean } = {}): Promise<FileEntry> {
    return toFileEntry(v1.FileEntry.decode(await this.unary('mkdir', v1.FilePathRequest.encode({ path, parents: o.parents ?? false }).finish())));
  }

  /** Copies to exactly `dst` (mode and mtime kept; files atomically). */
  async copy(src: string, dst: string, o: { recursive?: boolean; overwrite?: boolean } = {}): Promise<FileEntry> {
    const req = v1.CopyFileRequest.encode({ src, dst, recursive: o.recursive ?? false, overwrite: o.overwrite ?? false }).finish();
    return toFileEntry(v1.FileEntry.decode(await this.unary('copy', req)));
  }

  /** Renames (copy + delete across devices). */
  async move(src: string, dst: string, o: { overwrite?: boolean } = {}): Promise<FileEntry> {
    const req = v1.CopyFileRequest.encode({ src, dst, overwrite: o.overwrite ?? false }).finish();
    return toFileEntry(v1.FileEntry.decode(await this.unary('move', req)));
  }

  async search(root: string, o: SearchOptions): Promise<{ matches: SearchMatch[]; truncated: boolean }> {
    const req = v1.SearchFilesRequest.encode({ root, glob: o.glob ?? '', name: o.name ?? '', content: o.content ?? '', limit: o.limit ?? 0, hidden: o.hidden ?? false }).finish();
    const res = v1.SearchFilesResponse.decode(await this.unary('search', req));
    return {
      matches: res.matches.map((m) => ({ entry: toFileEntry(m.entry!), ...(m.line ? { line: m.line, text: m.text } : {}) })),
      truncated: res.truncated,
    };
  }

  /** A directory (or file) as a tar.gz or zip stream, built on the fly. */
  async archive(path: string, o: { format?: 'tar.gz' | 'zip' } = {}): Promise<Readable> {
    return readableFrom(await this.open('archive', v1.ArchiveRequest.encode({ path, format: o.format ?? 'tar.gz' }).finish(), true));
  }

  /** Coalesced change events under a path, until `close()`. */
  async watch(path: string, o: { recursive?: boolean; coalesceMs?: number } = {}): Promise<FileWatch> {
    return new FileWatch(await this.open('watch', v1.WatchRequest.encode({ path, recursive: o.recursive ?? false, coalesceMs: o.coalesceMs ?? 0 }).finish(), true));
  }
}

function readRequest(path: string, o: ReadOptions, maxBytes: number): Uint8Array {
  return v1.ReadFileRequest.encode({ path, offset: o.offset ?? 0, length: o.length ?? 0, maxBytes }).finish();
}

/** Sends the data, half-closes, and resolves with the agent's WriteFileResult once it committed. */
function sendUpload(stream: Stream, data: Uint8Array | Readable): Promise<WriteResult> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const w = writableTo(stream, {
      onData: (c) => chunks.push(c),
      onClose: (err) => {
        if (err) return reject(err);
        const r = v1.WriteFileResult.decode(Buffer.concat(chunks));
        resolve({ size: Number(r.size), path: r.path, ...(r.sha256 ? { sha256: r.sha256 } : {}) });
      },
    });
    if (data instanceof Uint8Array) w.end(data);
    else
      pipeline(data, w).catch((err) => {
        if (!stream.finished) stream.abort(asCmdopError(err, 'reading the upload source'));
        reject(err);
      });
  });
}
