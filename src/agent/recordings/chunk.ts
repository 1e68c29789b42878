/**
 * A recording chunk as the session's thread gathers it: raw records, each the pty bytes (or a
 * finished event line) with its time, copied in as they come. Turning them into asciicast text
 * (JSON escaping, the per-read line) and compressing it is the recording worker's job, off the
 * thread that serves the terminal (`ChunkRenderer.render` is that step, pure, so tests run it
 * directly).
 *
 * A record: kind (1 byte: 'o' or 'i' pty bytes, 'l' a finished line), time (f64, seconds), length
 * (u32), then the bytes.
 */
import { constants as z } from 'node:zlib';
import { CastEncoder, lineRoom } from './encode.js';

export const RECORD_HEAD = 13;
const KIND_LINE = 0x6c; // 'l'
const KIND_OUTPUT = 0x6f; // 'o'
const KIND_INPUT = 0x69; // 'i'

// Level 1: terminal text still shrinks 10-90x, at a third of level 6's CPU (the recording bench).
export const GZIP = { level: 1, memLevel: 8, strategy: z.Z_DEFAULT_STRATEGY };

export type RecordKind = 'o' | 'i' | 'l';

/** Writes a record into `buf` at `at` (which has RECORD_HEAD + bytes.length free); returns the new end. */
export function putRecord(buf: Buffer, at: number, kind: RecordKind, time: number, bytes: Uint8Array): number {
  buf[at] = kind === 'o' ? KIND_OUTPUT : kind === 'i' ? KIND_INPUT : KIND_LINE;
  buf.writeDoubleLE(time, at + 1);
  buf.writeUInt32LE(bytes.length, at + 9);
  buf.set(bytes, at + RECORD_HEAD);
  return at + RECORD_HEAD + bytes.length;
}

/**
 * Whether `b` is the only view of memory of its own, so that its ArrayBuffer may move to another
 * thread whole: not a slice of Buffer's shared pool, nor a view into someone's larger buffer.
 */
export function ownsMemory(b: Uint8Array): boolean {
  return b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.buffer.byteLength > Buffer.poolSize;
}

/** Text rendered by any renderer: one thread renders one chunk at a time, and its text is gzipped before the next. */
let scratch = Buffer.allocUnsafe(0);

/** One recording's encoders, which carry a character split across two reads from chunk to chunk. */
export class ChunkRenderer {
  private readonly out = new CastEncoder();
  private readonly inp = new CastEncoder();

  /**
   * The asciicast lines of a chunk of records. The view is into a buffer that every renderer's
   * next call reuses. Room: a record of n bytes becomes at most lineRoom(n) = 6n + 58 bytes, and
   * takes n + 13 in the chunk, so 6 x the chunk (+ one line's framing) always holds its text.
   */
  render(raw: Uint8Array): Buffer {
    const need = lineRoom(raw.length);
    if (scratch.length < need) scratch = Buffer.allocUnsafe(need);
    const view = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    const out = scratch;
    let at = 0;
    for (let p = 0; p < view.length; ) {
      const kind = view[p]!;
      const time = view.readDoubleLE(p + 1);
      const len = view.readUInt32LE(p + 9);
      const bytes = view.subarray(p + RECORD_HEAD, p + RECORD_HEAD + len);
      if (bytes.length !== len) throw new Error('a recording chunk ends inside a record');
      if (kind === KIND_LINE) at += bytes.copy(out, at);
      else if (kind === KIND_OUTPUT) at = this.out.into(out, at, time, 'o', bytes);
      else if (kind === KIND_INPUT) at = this.inp.into(out, at, time, 'i', bytes);
      else throw new Error(`a recording chunk has a record of unknown kind ${kind}`);
      p += RECORD_HEAD + len;
    }
    return out.subarray(0, at);
  }
}
