/**
 * WebSocket framing (RFC 6455, section 5) for the link's data path, once `ws` has done the
 * opening handshake (./lean-transport.ts). Pure: bytes in, frames out; headers written into
 * caller-given memory.
 *
 * No extension is ever negotiated on our links (`perMessageDeflate: false` on both ends), so any
 * RSV bit is a protocol error. A message may come in fragments (a browser may send them); control
 * frames may come between fragments, are at most 125 bytes and never fragmented. Limits and
 * protocol errors carry the close code the RFC gives them.
 */

import { HEADROOM_MIN, TRANSPORT_HEADROOM, reserveHeadroom } from '../protocol/headroom.js';

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes (RFC 6455 section 7.4.1). */
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_TOO_BIG = 1009;

/** The largest frame header: 2 bytes, an 8-byte length, a 4-byte mask key (TRANSPORT_HEADROOM). */
export const WS_MAX_HEADER = TRANSPORT_HEADROOM;

/** A peer broke the framing rules: the link is closed with `closeCode`. */
export class WsFrameError extends Error {
  constructor(message: string, readonly closeCode: number) {
    super(message);
  }
}

/** Header bytes for a payload of `len` (masked: with a 4-byte key, which we always send as zero). */
export function headerLength(len: number, masked: boolean): number {
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a final frame's header for `len` payload bytes at `at` in `out` (headerLength bytes).
 * A masked frame gets the zero key: our clients only speak inside TLS or a local socket, where no
 * intermediary reads the bytes that masking protects against, and a zero key leaves the payload
 * as it is (as `ws` does with its `generateMask` option; see dial.ts).
 */
export function writeHeader(out: Uint8Array, at: number, opcode: number, len: number, masked: boolean): number {
  out[at] = 0x80 | opcode;
  const m = masked ? 0x80 : 0;
  let i = at + 2;
  if (len < 126) out[at + 1] = m | len;
  else if (len < 65536) {
    out[at + 1] = m | 126;
    out[at + 2] = len >>> 8;
    out[at + 3] = len & 0xff;
    i = at + 4;
  } else {
    out[at + 1] = m | 127;
    const hi = Math.floor(len / 0x100000000);
    const lo = len >>> 0;
    out[at + 2] = 0;
    out[at + 3] = 0;
    out[at + 4] = (hi >>> 8) & 0xff;
    out[at + 5] = hi & 0xff;
    out[at + 6] = lo >>> 24;
    out[at + 7] = (lo >>> 16) & 0xff;
    out[at + 8] = (lo >>> 8) & 0xff;
    out[at + 9] = lo & 0xff;
    i = at + 10;
  }
  if (masked) {
    out[i] = out[i + 1] = out[i + 2] = out[i + 3] = 0;
    i += 4;
  }
  return i - at;
}

/** One final frame, header and payload in one buffer (one write). */
export function encodeWsFrame(opcode: number, payload: Uint8Array, masked: boolean): Buffer {
  const h = headerLength(payload.length, masked);
  const out = Buffer.allocUnsafe(h + payload.length);
  writeHeader(out, 0, opcode, payload.length, masked);
  out.set(payload, h);
  return out;
}

/** A close frame's payload: the code, then the reason in UTF-8 (cut to fit a control frame). */
export function closePayload(code: number, reason: string): Buffer {
  const r = Buffer.from(reason, 'utf8').subarray(0, 123);
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code, 0);
  out.set(r, 2);
  return out;
}

/** The code and reason of a received close frame's payload; throws on a malformed one. */
export function parseClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length === 0) return { code: CLOSE_NO_STATUS, reason: '' };
  if (payload.length === 1) throw new WsFrameError('close frame with a 1-byte payload', CLOSE_PROTOCOL_ERROR);
  const code = (payload[0]! << 8) | payload[1]!;
  const valid = (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
  if (!valid) throw new WsFrameError(`close frame with invalid code ${code}`, CLOSE_PROTOCOL_ERROR);
  let reason: string;
  try {
    reason = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
  } catch {
    throw new WsFrameError('close frame reason is not UTF-8', 1007);
  }
  return { code, reason };
}

export interface WsReaderOptions {
  /** A server reads masked frames only, a client unmasked ones only (RFC 6455 section 5.1). */
  expectMasked: boolean;
  /** Largest message, in bytes (over every fragment). */
  maxPayload: number;
  /** A whole data message; `binary` false for text. The bytes may be a view of a pushed chunk. */
  onMessage(data: Uint8Array, binary: boolean): void;
  /** A close, ping or pong frame. */
  onControl(opcode: number, payload: Uint8Array): void;
}

const EMPTY = new Uint8Array(0);

/**
 * Frames from a byte stream cut anywhere. A payload that lies within one pushed chunk is handed
 * over as a view of it (unmasked in place); one that spans chunks is copied once into a buffer
 * of its own size. Linear in the bytes pushed.
 */
export class WsFrameReader {
  private readonly head = new Uint8Array(WS_MAX_HEADER);
  private headHave = 0;
  private headNeed = 2;
  /** The frame being read, once its header is complete. */
  private fin = false;
  private opcode = 0;
  private maskKey = 0;
  /** A payload that spans chunks, filled as they come (null: not in one). */
  private payload: Uint8Array | null = null;
  private payloadHave = 0;
  /** A fragmented message so far: its opcode (-1: none), its pieces, their total. */
  private fragOpcode = -1;
  private frags: Uint8Array[] = [];
  private fragBytes = 0;

  constructor(private readonly o: WsReaderOptions) {}

  /** Reads `chunk` (which the reader may keep views of and unmask in place); throws WsFrameError. */
  push(chunk: Uint8Array): void {
    let at = 0;
    const n = chunk.length;
    while (at < n) {
      const p = this.payload;
      if (p) {
        const take = Math.min(p.length - this.payloadHave, n - at);
        p.set(chunk.subarray(at, at + take), this.payloadHave);
        this.payloadHave += take;
        at += take;
        if (this.payloadHave === p.length) {
          this.payload = null;
          this.endFrame(p);
        }
        continue;
      }
      const take = Math.min(this.headNeed - this.headHave, n - at);
      for (let i = 0; i < take; i++) this.head[this.headHave + i] = chunk[at + i]!;
      this.headHave += take;
      at += take;
      if (this.headHave < this.headNeed) return;
      if (this.headHave === 2) {
        const l7 = this.head[1]! & 0x7f;
        this.headNeed = 2 + (l7 === 126 ? 2 : l7 === 127 ? 8 : 0) + (this.head[1]! & 0x80 ? 4 : 0);
        if (this.headNeed > 2) continue;
      }
      const len = this.startFrame();
      const headLen = this.headNeed;
      this.headHave = 0;
      this.headNeed = 2;
      if (len === 0) this.endFrame(EMPTY);
      else if (n - at >= len) {
        // The whole payload is in this chunk: a view, no copy. A big one whose header came in the
        // same chunk keeps those bytes as its headroom: forwarded as it is (the relay), it goes
        // out with its new header written there, in one buffer (ours is never longer than a
        // client's, which carries a mask key).
        const view = len >= HEADROOM_MIN && at >= headLen ? reserveHeadroom(chunk.subarray(at - headLen, at + len), headLen) : chunk.subarray(at, at + len);
        at += len;
        this.endFrame(view);
      } else {
        this.payload = Buffer.allocUnsafe(len);
        this.payloadHave = 0;
      }
    }
  }

  /** The header is complete: checks it; returns the payload's length. */
  private startFrame(): number {
    const h = this.head;
    const b0 = h[0]!;
    const b1 = h[1]!;
    if (b0 & 0x70) throw new WsFrameError('RSV bit set, but no extension was negotiated', CLOSE_PROTOCOL_ERROR);
    this.fin = (b0 & 0x80) !== 0;
    const op = (this.opcode = b0 & 0x0f);
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.o.expectMasked) throw new WsFrameError(masked ? 'masked frame from a server' : 'unmasked frame from a client', CLOSE_PROTOCOL_ERROR);
    let len = b1 & 0x7f;
    let i = 2;
    if (len === 126) {
      len = (h[2]! << 8) | h[3]!;
      i = 4;
    } else if (len === 127) {
      const hi = ((h[2]! << 24) | (h[3]! << 16) | (h[4]! << 8) | h[5]!) >>> 0;
      const lo = ((h[6]! << 24) | (h[7]! << 16) | (h[8]! << 8) | h[9]!) >>> 0;
      len = hi > 0x1fffff ? Infinity : hi * 0x100000000 + lo;
      i = 10;
    }
    this.maskKey = masked ? ((h[i]! << 24) | (h[i + 1]! << 16) | (h[i + 2]! << 8) | h[i + 3]!) >>> 0 : 0;
    if (op >= 0x8) {
      if (op !== OP_CLOSE && op !== OP_PING && op !== OP_PONG) throw new WsFrameError(`unknown control opcode ${op}`, CLOSE_PROTOCOL_ERROR);
      if (!this.fin) throw new WsFrameError('fragmented control frame', CLOSE_PROTOCOL_ERROR);
      if (len > 125) throw new WsFrameError('control frame over 125 bytes', CLOSE_PROTOCOL_ERROR);
      return len;
    }
    if (op === OP_CONTINUATION) {
      if (this.fragOpcode < 0) throw new WsFrameError('continuation frame with no message to continue', CLOSE_PROTOCOL_ERROR);
    } else if (op === OP_TEXT || op === OP_BINARY) {
      if (this.fragOpcode >= 0) throw new WsFrameError('new message before the last one ended', CLOSE_PROTOCOL_ERROR);
    } else throw new WsFrameError(`unknown opcode ${op}`, CLOSE_PROTOCOL_ERROR);
    if (this.fragBytes + len > this.o.maxPayload) throw new WsFrameError(`message over ${this.o.maxPayload} bytes`, CLOSE_TOO_BIG);
    return len;
  }

  private endFrame(p: Uint8Array): void {
    if (this.maskKey !== 0) unmask(p, this.maskKey);
    const op = this.opcode;
    if (op >= 0x8) return this.o.onControl(op, p);
    if (this.fin && op !== OP_CONTINUATION) return this.o.onMessage(p, op === OP_BINARY);
    if (op !== OP_CONTINUATION) this.fragOpcode = op;
    if (p.length > 0) {
      this.frags.push(p);
      this.fragBytes += p.length;
    }
    if (!this.fin) return;
    const whole = this.frags.length === 1 ? this.frags[0]! : Buffer.concat(this.frags, this.fragBytes);
    const binary = this.fragOpcode === OP_BINARY;
    this.fragOpcode = -1;
    this.frags = [];
    this.fragBytes = 0;
    this.o.onMessage(whole, binary);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** XORs `p` in place with the 4-byte key `key` (big-endian, as on the wire): a word at a time where it can. */
function unmask(p: Uint8Array, key: number): void {
  const k = [key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff] as const;
  const n = p.length;
  let i = 0;
  if (LITTLE_ENDIAN && n >= 64) {
    // Bytes up to a 4-byte boundary, then words (the key turned to where the words start).
    for (; (p.byteOffset + i) & 3; i++) p[i] = p[i]! ^ k[i & 3]!;
    const words = new Uint32Array(p.buffer, p.byteOffset + i, (n - i) >>> 2);
    const w = (k[i & 3]! | (k[(i + 1) & 3]! << 8) | (k[(i + 2) & 3]! << 16) | (k[(i + 3) & 3]! << 24)) >>> 0;
    for (let j = 0; j < words.length; j++) words[j] = words[j]! ^ w;
    i += words.length * 4;
  }
  for (; i < n; i++) p[i] = p[i]! ^ k[i & 3]!;
}
