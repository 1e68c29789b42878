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
import { FilesCore } from './files-core.js';
import type { ReadOptions, WriteOptions, WriteResult } from './files-types.js';
import { download, upload, type DownloadOptions, type UploadOptions } from './files-transfer.js';

const v1 = cmdop.v1;
export { FILE_WINDOW } from './files-core.js';

export class Files extends FilesCore {
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

  /** Writes a file atomically (temp + fsync + rename on the machine) from a Buffer, a string, a Node stream or any async iterable of chunks. */
  write(path: string, data: string | Uint8Array | Readable | AsyncIterable<Uint8Array>, o: WriteOptions & { offset?: number; prefixSha256?: string } = {}): Promise<WriteResult> {
    return this.writeChunks(path, typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data, o);
  }

  /** Uploads a local file; with `resume`, continues an interrupted upload after checking the prefix hash. */
  upload(localPath: string, remotePath: string, o: UploadOptions = {}): Promise<WriteResult> {
    return upload(this, localPath, remotePath, o);
  }

  /** Downloads to a local file atomically (temp + rename); with `resume`, continues a cut download. */
  download(remotePath: string, localPath: string, o: DownloadOptions = {}): Promise<{ size: number; path: string }> {
    return download(this, remotePath, localPath, o);
  }

  /** A directory (or file) as a tar.gz or zip stream, built on the fly. */
  async archive(path: string, o: { format?: 'tar.gz' | 'zip' } = {}): Promise<Readable> {
    return readableFrom(await this.open('archive', v1.ArchiveRequest.encode({ path, format: o.format ?? 'tar.gz' }).finish(), true));
  }
}

function readRequest(path: string, o: ReadOptions, maxBytes: number): Uint8Array {
  return v1.ReadFileRequest.encode({ path, offset: o.offset ?? 0, length: o.length ?? 0, maxBytes }).finish();
}
