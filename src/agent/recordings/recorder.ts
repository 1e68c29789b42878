/**
 * One terminal session's recording: asciicast v2 lines, compressed into a sequence of gzip
 * members (a valid .gz file that `zcat` reads whole) so that a crash loses at most the last
 * second, and a reader can stream what is on disk while the session runs.
 *
 * The header is written synchronously when the session starts, so a recording that cannot be
 * written is known before the pty exists (strict mode refuses the session then). After that the
 * writer is asynchronous: events gather into a chunk as raw records (chunk.ts: a copy of the
 * bytes and their time, nothing more on the terminal's thread), each chunk is turned into
 * asciicast text and compressed by the recording worker (compressor.ts, off that thread), and
 * appended in order. If the writer falls behind, the session's output pauses (reason
 * 'recording') until it catches up, so memory stays bounded and the recording complete; a writer
 * that makes no progress for STALL_MS fails the recording instead (best-effort mode never lets a
 * hung disk hold a terminal). Any write error ends the recording as `failed`; the session goes on.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { write as fsWrite } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { eventLine, headerLine, type CastCode, type CastHeader } from '../../protocol/asciicast.js';
import { GZIP, putRecord, RECORD_HEAD, type RecordKind } from './chunk.js';
import { recordingCompressor } from './compressor.js';
import { describeWriteError } from './write-error.js';

/** A chunk is compressed once it holds this many bytes of records, or FLUSH_MS after its first event. */
export const CHUNK_BYTES = 256 * 1024;
export const FLUSH_MS = 1000;
/** Records waiting for the writer beyond this pause the session's output; below LOW_WATER it resumes. */
export const HIGH_WATER = 4 * 1024 * 1024;
export const LOW_WATER = 1024 * 1024;
/** A writer that completes nothing for this long, with output paused on it, fails the recording. */
export const STALL_MS = 5000;
/** Room kept under the size cap for the closing marker. */
const CAP_RESERVE = 1024;

export type RecordingStatus = 'recording' | 'complete' | 'truncated' | 'failed' | 'interrupted';

export interface RecorderHooks {
  /** Hold and release the session's output while the writer catches up. */
  pause(): void;
  resume(): void;
  /** The recording failed (once): a write error, a stall. */
  failed(reason: string): void;
  /** The recording ended (complete, truncated or failed) and its file is closed. */
  ended(): void;
}

export interface RecorderOptions {
  path: string;
  header: CastHeader;
  /** Compressed bytes the file may reach; past it the recording ends as `truncated`. */
  maxBytes: number;
  input: boolean;
  now?: () => number;
}

let recordings = 0;

export class SessionRecorder {
  status: RecordingStatus = 'recording';
  error = '';
  /** Compressed bytes on disk, and the asciicast text they hold. */
  bytes = 0;
  castBytes = 0;
  readonly startedMs: number;
  endedMs = 0;
  private fd: number;
  private readonly now: () => number;
  /** This recording's key in the worker, which keeps its encoders' state between chunks. */
  private readonly id = ++recordings;
  private readonly compressor = recordingCompressor();
  /** The chunk being filled: records are copied straight into it, and it goes to the worker as it is. */
  private buf = this.compressor.buffer(2 * CHUNK_BYTES);
  private size = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly queue: Buffer[] = [];
  private backlog = 0;
  private writing = false;
  private paused = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private finishing = false;
  private lastTime = 0;

  /** Writes the header at once; throws (an fs error) if the file cannot be created or written. */
  constructor(private readonly o: RecorderOptions, private readonly hooks: RecorderHooks) {
    this.now = o.now ?? Date.now;
    this.startedMs = this.now();
    this.fd = openSync(o.path, 'wx', 0o600);
    try {
      const head = headerLine({ ...o.header, timestamp: Math.floor(this.startedMs / 1000) });
      const gz = gzipSync(head, GZIP);
      for (let off = 0; off < gz.length; ) off += writeSync(this.fd, gz, off, gz.length - off);
      this.bytes = gz.length;
      this.castBytes = Buffer.byteLength(head);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  get recordsInput(): boolean {
    return this.o.input;
  }

  /** Seconds since the start; never backwards, even if the wall clock steps back. */
  private time(): number {
    this.lastTime = Math.max(this.lastTime, (this.now() - this.startedMs) / 1000);
    return this.lastTime;
  }

  output(bytes: Uint8Array): void {
    if (this.status !== 'recording') return;
    this.record('o', bytes);
  }

  input(bytes: Uint8Array): void {
    if (this.status !== 'recording' || !this.o.input) return;
    this.record('i', bytes);
  }

  resize(cols: number, rows: number): void {
    if (this.status === 'recording') this.text('r', `${cols}x${rows}`);
  }

  marker(label: string): void {
    if (this.status === 'recording') this.text('m', label);
  }

  private record(kind: RecordKind, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.room(RECORD_HEAD + bytes.length);
    this.added(putRecord(this.buf, this.size, kind, this.time(), bytes));
  }

  /** Events made of text (resizes, markers) are whole lines already: they travel as such. */
  private text(code: CastCode, data: string): void {
    this.record('l', Buffer.from(eventLine(this.time(), code, data)));
  }

  /** Makes room for `n` more bytes in the chunk (a full chunk goes to the writer first). */
  private room(n: number): void {
    if (this.size + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  private added(end: number): void {
    if (end === this.size) return;
    this.size = end;
    if (this.size >= CHUNK_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Hands the gathered events to the writer. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.size === 0) return;
    const text = this.buf.subarray(0, this.size);
    this.buf = this.compressor.buffer(Math.max(2 * CHUNK_BYTES, this.buf.length));
    this.size = 0;
    this.queue.push(text);
    this.backlog += text.length;
    if (this.backlog > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.hooks.pause();
      this.armStall();
    }
    this.pump();
  }

  /** The session ended: writes what is left and closes the file. */
  finish(label?: string): void {
    if (this.finishing) return;
    this.finishing = true;
    if (label) this.marker(label);
    this.flush();
    this.pump();
  }

  private pump(): void {
    if (this.writing || this.status !== 'recording') return;
    const text = this.queue.shift();
    if (text === undefined) {
      if (this.finishing) this.end('complete');
      return;
    }
    this.writing = true;
    const queued = text.length; // the chunk moves to the worker: its length is read first
    this.compressor.compress(this.id, text, (err, gz, textBytes) => {
      if (this.settled()) return;
      if (err || !gz) return this.afterWrite(() => this.fail(describeWriteError(err)));
      if (this.bytes + gz.length > this.o.maxBytes - CAP_RESERVE) return this.afterWrite(() => this.truncate());
      this.writeAll(gz, 0, () => {
        this.bytes += gz.length;
        this.castBytes += textBytes ?? 0;
        this.backlog -= queued;
        this.afterWrite(() => {
          this.progress();
          this.pump();
        });
      });
    });
  }

  private writeAll(buf: Buffer, off: number, done: () => void): void {
    fsWrite(this.fd, buf, off, buf.length - off, null, (err, n) => {
      if (this.settled()) return;
      if (err) return this.afterWrite(() => this.fail(describeWriteError(err)));
      if (off + n < buf.length) this.writeAll(buf, off + n, done);
      else done();
    });
  }

  private afterWrite(next: () => void): void {
    this.writing = false;
    next();
  }

  /** An operation came back after the recording ended (a stall): the file closes now, not under it. */
  private settled(): boolean {
    if (this.status === 'recording') return false;
    this.writing = false;
    this.closeFile();
    return true;
  }

  private closeFile(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
    this.fd = -1;
  }

  /** The writer moved: restart the stall clock, release the output below the low water mark. */
  private progress(): void {
    if (!this.paused) return;
    if (this.backlog < LOW_WATER) {
      this.paused = false;
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      this.hooks.resume();
    } else this.armStall();
  }

  private armStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.fail(`the disk made no progress for ${STALL_MS / 1000} s`), STALL_MS);
    this.stallTimer.unref();
  }

  /** The cap is reached: a closing marker that fits, then the recording ends as truncated. */
  private truncate(): void {
    const note = gzipSync(eventLine(this.time(), 'm', `recording truncated at the ${this.o.maxBytes}-byte cap`), GZIP);
    try {
      writeSync(this.fd, note);
      this.bytes += note.length;
    } catch {
      // the marker is a courtesy; the status says it all
    }
    this.error = `reached the ${this.o.maxBytes}-byte cap`;
    this.end('truncated');
  }

  private fail(reason: string): void {
    if (this.status !== 'recording') return;
    this.error = reason;
    this.end('failed');
    this.hooks.failed(reason);
  }

  private end(status: RecordingStatus): void {
    if (this.status !== 'recording') return;
    this.status = status;
    this.endedMs = this.now();
    if (this.timer) clearTimeout(this.timer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.timer = this.stallTimer = null;
    this.queue.length = 0;
    this.size = 0;
    this.backlog = 0;
    this.compressor.drop(this.id);
    // An operation still in flight keeps the descriptor: closing it under a queued write could
    // let the write land in whatever file reuses the number.
    if (!this.writing) this.closeFile();
    if (this.paused) {
      this.paused = false;
      this.hooks.resume();
    }
    this.hooks.ended();
  }
}
