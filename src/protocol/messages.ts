/**
 * Typed messages inside a stream: one type byte, a varint length, the body. Streams are byte
 * streams (a sender may cut or join chunks), so the reader reassembles. Pure, no Node-only APIs.
 * Output and input bodies are raw bytes; control and event bodies are protobuf messages.
 */
import { ProtocolError } from '../errors.js';

export const MSG_OUTPUT = 1;
export const MSG_EVENT = 2;
export const MSG_INPUT = 3;
export const MSG_CONTROL = 4;
export const MSG_RESULT = 5;

/** Largest message a reader accepts (a paste or a screen snapshot fits many times over). */
export const MAX_MESSAGE = 8 * 1024 * 1024;

/** Frames a message with one copy of the body. */
export function frameMessage(type: number, body: Uint8Array): Uint8Array {
  let n = body.length;
  let lenBytes = 1;
  while (n >= 0x80) {
    n >>>= 7;
    lenBytes++;
  }
  const out = new Uint8Array(1 + lenBytes + body.length);
  out[0] = type;
  let pos = 1;
  n = body.length;
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  out.set(body, pos);
  return out;
}

export type MessageHandler = (type: number, body: Uint8Array) => void;

export class MessageReader {
  private pending: Uint8Array | null = null;

  constructor(private readonly onMessage: MessageHandler, private readonly max = MAX_MESSAGE) {}

  /** Feeds bytes; calls the handler for every complete message. Throws ProtocolError on a bad header. */
  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.pending) {
      const joined = new Uint8Array(this.pending.length + chunk.length);
      joined.set(this.pending, 0);
      joined.set(chunk, this.pending.length);
      buf = joined;
      this.pending = null;
    }
    let pos = 0;
    while (pos < buf.length) {
      const start = pos;
      const type = buf[pos++]!;
      if (type === 0) throw new ProtocolError('stream message with type 0');
      let len = 0;
      let shift = 0;
      let complete = false;
      while (pos < buf.length) {
        const b = buf[pos++]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b < 0x80) {
          complete = true;
          break;
        }
        if (shift > 28) throw new ProtocolError('stream message length too long');
      }
      if (complete && len > this.max) throw new ProtocolError(`stream message of ${len} bytes exceeds ${this.max}`);
      if (!complete || pos + len > buf.length) {
        this.pending = buf.slice(start);
        return;
      }
      this.onMessage(type, buf.subarray(pos, pos + len));
      pos += len;
    }
  }

  /** Bytes of a partial message waiting for the rest. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }
}
