/**
 * The part of `client.files` with no Node built-ins (the web console uses it as it is): listing,
 * metadata, and the operations that change the tree. `Files` (./files.ts) adds Buffers, Node
 * streams and local files.
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import type { Stream } from '../protocol/stream.js';
import type { Caller } from './caller.js';
import type { MachineTarget } from './target.js';
import { FileWatch } from './files-watch.js';
import { toFileEntry, type FileEntry, type ListOptions, type ListPage, type ReadOptions, type SearchMatch, type SearchOptions, type WriteOptions, type WriteResult } from './files-types.js';
import { bytesOf } from '../link/stream-iter.js';
import { asCmdopError } from '../errors.js';

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const v1 = cmdop.v1;
/** Receive window of a download: enough in flight to keep a long link busy. */
export const FILE_WINDOW = 16 * 1024 * 1024;

export class FilesCore {
  constructor(protected readonly caller: Caller, protected readonly machine: MachineTarget) {}

  /** Same as `client.terminal.setMachine`: the machine both namespaces talk to. */
  setMachine(m: string | { machineId: string }): void {
    this.machine.set(m);
  }

  protected async unary(method: string, req: Uint8Array): Promise<Uint8Array> {
    return this.caller.unary(this.machine.get(), 'files', method, req);
  }

  /** Opens a files stream (transfers and the web console use it). */
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

  /** The file's bytes from `offset`, streamed under flow control (credit as the consumer takes them). */
  async readChunks(path: string, o: ReadOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    return bytesOf(await this.open('read', v1.ReadFileRequest.encode({ path, offset: o.offset ?? 0, length: o.length ?? 0, maxBytes: 0 }).finish(), true));
  }

  /**
   * Writes a file atomically on the machine from chunks as they come (temp + fsync + rename
   * there), waiting for the link's room between chunks; resolves once the machine committed it.
   * A failing source aborts the upload, and the destination is untouched.
   */
  async writeChunks(path: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, o: WriteOptions & { offset?: number; prefixSha256?: string } = {}): Promise<WriteResult> {
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
    const reply: Uint8Array[] = [];
    let room: (() => void) | null = null;
    const wake = () => {
      const r = room;
      room = null;
      r?.();
    };
    const closed = new Promise<Error | null>((resolve) =>
      stream.handle({
        onData: (c) => reply.push(c.slice()),
        onDrain: wake,
        onClose: (err) => {
          resolve(err);
          wake();
        },
      }),
    );
    // The source may stall (a pipe, a user's stream): a closed stream must end the wait all the same.
    const it = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
    let stopWaiting: (() => void) | null = null;
    void closed.then(() => stopWaiting?.());
    try {
      for (;;) {
        // Either the source's next chunk or, if the stream closes first, null (nothing is kept per chunk).
        const next = stream.finished
          ? null
          : await new Promise<IteratorResult<Uint8Array> | null>((resolve, reject) => {
              stopWaiting = () => resolve(null);
              Promise.resolve(it.next()).then(resolve, reject);
            });
        stopWaiting = null;
        if (next === null) {
          void it.return?.();
          break;
        }
        if (next.done) break;
        if (!stream.write(next.value)) await new Promise<void>((r) => (room = r));
      }
    } catch (err) {
      if (!stream.finished) stream.abort(asCmdopError(err, 'reading the upload source'));
      throw err;
    }
    if (!stream.finished) stream.end();
    const err = await closed;
    if (err) throw err;
    const r = v1.WriteFileResult.decode(concatBytes(reply));
    return { size: Number(r.size), path: r.path, ...(r.sha256 ? { sha256: r.sha256 } : {}) };
  }

  /** How much of an interrupted resumable upload to `path` the machine holds. */
  async uploadStatus(path: string): Promise<{ offset: number; sha256: string }> {
    const s = v1.UploadStatus.decode(await this.unary('upload_status', v1.FilePathRequest.encode({ path }).finish()));
    return { offset: Number(s.offset), sha256: s.sha256 };
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


  /** Coalesced change events under a path, until `close()`. */
  async watch(path: string, o: { recursive?: boolean; coalesceMs?: number } = {}): Promise<FileWatch> {
    return new FileWatch(await this.open('watch', v1.WatchRequest.encode({ path, recursive: o.recursive ?? false, coalesceMs: o.coalesceMs ?? 0 }).finish(), true));
  }
}
