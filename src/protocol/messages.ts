/**
 * Typed messages inside a stream: one type byte, a varint length, the body. Streams are byte
 * streams (a sender may cut or join chunks), so the reader reassembles. Pure, no Node-only APIs.
 * Output and input bodies are raw bytes; control and event bodies are protobuf messages.
 */
import { ProtocolError } from '../errors.js';
import { allocWithHeadroom, FRAME_HEADROOM, HEADROOM_MIN, MESSAGE_HEADROOM, takeHeadroom } from './headroom.js';
import { allocUnfilled } from './bytes.js';
import { readVarint, varintRead, varintSize, VARINT_INCOMPLETE, VARINT_TOO_LONG, writeVarint } from './varint.js';

export const MSG_OUTPUT = 1;
export const MSG_EVENT = 2;
export const MSG_INPUT = 3;
export const MSG_CONTROL = 4;
export const MSG_RESULT = 5;

/** Largest message a reader accepts (a paste or a screen snapshot fits many times over). */
export const MAX_MESSAGE = 8 * 1024 * 1024;

/**
 * Frames a message: into the body's headroom when it has some (no copy), else with one copy of
 * the body into a buffer that keeps room in front for the data frame's header (headroom.ts), so
 * the frame costs no second copy. Small bodies are simply copied (HEADROOM_MIN).
 */
export function frameMessage(type: number, body: Uint8Array): Uint8Array {
  const headerBytes = 1 + varintSize(body.length);
  const big = body.length >= HEADROOM_MIN;
  let out = big ? takeHeadroom(body, headerBytes) : null;
  if (!out) {
    out = big ? allocWithHeadroom(headerBytes + body.length, FRAME_HEADROOM) : allocUnfilled(headerBytes + body.length);
    out.set(body, headerBytes);
  }
  out[0] = type;
  writeVarint(out, 1, body.length);
  return out;
}

export type MessageHandler = (type: number, body: Uint8Array) => void;

/** Bytes of a message header at most: the type byte and a 5-group varint. */
const MAX_HEADER = MESSAGE_HEADROOM;

/**
 * Reassembles messages from chunks cut anywhere. Linear in the bytes it sees: the chunks of a
 * partial message are kept as they came, and joined once, when the message is complete (the old
 * reader re-joined its pending bytes on every push, quadratic for a large message).
 */
export class MessageReader {
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  /** Total bytes (header + body) of the partial message, once its header is known; else -1. */
  private need = -1;

  constructor(private readonly onMessage: MessageHandler, private readonly max = MAX_MESSAGE) {}

  /** Feeds bytes; calls the handler for every complete message. Throws ProtocolError on a bad header. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.parts.length === 0) return this.scan(chunk);
    this.parts.push(chunk);
    this.partsLen += chunk.length;
    if (this.need < 0) this.need = this.headerOf(this.head(Math.min(this.partsLen, MAX_HEADER)));
    if (this.need < 0 || this.partsLen < this.need) return;
    const joined = this.head(this.partsLen);
    this.parts = [];
    this.partsLen = 0;
    this.need = -1;
    this.scan(joined);
  }

  /** Bytes of a partial message waiting for the rest. */
  get buffered(): number {
    return this.partsLen;
  }

  /** Delivers every complete message in `buf`; keeps what is left as the start of a partial one. */
  private scan(buf: Uint8Array): void {
    let pos = 0;
    while (pos < buf.length) {
      const total = this.headerOf(buf.subarray(pos, pos + MAX_HEADER));
      if (total < 0 || pos + total > buf.length) {
        const rest = buf.subarray(pos);
        this.parts = [rest];
        this.partsLen = rest.length;
        this.need = total;
        return;
      }
      const bodyAt = pos + total - varintRead.value;
      this.onMessage(buf[pos]!, buf.subarray(bodyAt, pos + total));
      pos += total;
    }
  }

  /**
   * The whole size (header + body) of the message whose header starts `h`, or -1 if the header is
   * not all there yet; leaves the body length in varintRead.value. Throws on a bad header.
   */
  private headerOf(h: Uint8Array): number {
    if (h[0] === 0) throw new ProtocolError('stream message with type 0');
    const r = readVarint(h, 1);
    if (r === VARINT_TOO_LONG) throw new ProtocolError('stream message length too long');
    if (r === VARINT_INCOMPLETE) return -1;
    const len = varintRead.value;
    if (len > this.max) throw new ProtocolError(`stream message of ${len} bytes exceeds ${this.max}`);
    return varintRead.end + len;
  }

  /** The first `n` bytes of the parts, joined (a copy only when they span parts). */
  private head(n: number): Uint8Array {
    const first = this.parts[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of this.parts) {
      const take = Math.min(p.length, n - at);
      out.set(take === p.length ? p : p.subarray(0, take), at);
      at += take;
      if (at === n) break;
    }
    return out;
  }
}
