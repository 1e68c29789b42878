/**
 * Scrollback ring: the last `capacity` bytes of a session's output, addressed by absolute byte
 * offsets (the first byte ever written is offset 0). Pure.
 */
export class ScrollbackRing {
  private readonly buf: Uint8Array;
  /** Absolute offset one past the last byte written. */
  private endOffset = 0;

  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  /** Offset of the oldest byte still held. */
  get start(): number {
    return Math.max(0, this.endOffset - this.capacity);
  }

  get end(): number {
    return this.endOffset;
  }

  append(chunk: Uint8Array): void {
    const cap = this.capacity;
    let data = chunk;
    if (data.length > cap) data = data.subarray(data.length - cap);
    const at = (this.endOffset + (chunk.length - data.length)) % cap;
    const first = Math.min(data.length, cap - at);
    this.buf.set(data.subarray(0, first), at);
    if (first < data.length) this.buf.set(data.subarray(first), 0);
    this.endOffset += chunk.length;
  }

  /** The bytes [from, to) as a copy (to defaults to the end), or null if `from` is older than what is held. */
  since(from: number, to = this.endOffset): Uint8Array | null {
    if (from < this.start || from > this.endOffset) return null;
    const len = Math.max(0, Math.min(to, this.endOffset) - from);
    const out = new Uint8Array(len);
    const cap = this.capacity;
    const at = from % cap;
    const first = Math.min(len, cap - at);
    out.set(this.buf.subarray(at, at + first), 0);
    if (first < len) out.set(this.buf.subarray(0, len - first), first);
    return out;
  }
}

/**
 * Which bytes a history read answers: the last `maxBytes` (0 = all kept), or, given `from`, the
 * bytes [from, from + maxBytes) with `from` clamped to what is kept. Pure.
 */
export function historyWindow(ring: { start: number; end: number; capacity: number }, from: number | undefined, maxBytes: number): { from: number; to: number } {
  const max = maxBytes > 0 ? maxBytes : ring.capacity;
  if (from === undefined) return { from: Math.max(ring.start, ring.end - max), to: ring.end };
  const at = Math.min(Math.max(from, ring.start), ring.end);
  return { from: at, to: Math.min(ring.end, at + max) };
}
