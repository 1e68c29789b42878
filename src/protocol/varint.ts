/**
 * The one varint codec (protobuf's base-128, least significant group first) for the hand-written
 * hot paths: data frames (codec.ts) and stream messages (messages.ts). Lengths only: at most
 * 2^35 - 1, far above any frame or message bound. Pure.
 */

/** Bytes `n` takes as a varint. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes `n` at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/** The result of readVarint: one shared object, so the hot path allocates nothing. */
export const varintRead = { value: 0, end: 0 };

/** Not all of the varint is there yet. */
export const VARINT_INCOMPLETE = -1;
/** More than 5 groups: not a length this protocol ever sends. */
export const VARINT_TOO_LONG = -2;

/**
 * Reads a varint at `pos` of `buf` (up to `limit`, default the end). Returns 0 and fills
 * `varintRead` ({value, end}), or VARINT_INCOMPLETE, or VARINT_TOO_LONG.
 */
export function readVarint(buf: Uint8Array, pos: number, limit = buf.length): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= limit) return VARINT_INCOMPLETE;
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      varintRead.value = value;
      varintRead.end = pos;
      return 0;
    }
    scale *= 128;
  }
  return VARINT_TOO_LONG;
}
