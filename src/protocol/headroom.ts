/**
 * Headroom: free bytes in front of a payload, so that each layer writes its header there instead
 * of copying the payload into a bigger buffer (as the Linux kernel's skb headroom, or ws's own
 * sender writing its header beside the data). The terminal's joined output batch, file reads
 * (link/file-pieces.ts) and the agent's tunnel socket reads (link/headroom-reads.ts) are made
 * with room for the headers in front: the payload is copied once, into the buffer that goes to
 * the socket as it is. Pure.
 *
 * Only payloads of HEADROOM_MIN bytes or more use it. The room is one-shot: whoever takes it owns
 * those bytes, and the view they get back carries what is left for the next layer. A payload sent
 * twice (to two clients, say) gets its header by copy the second time, so two frames never share
 * a header byte. A subarray of a payload has no room (the bytes before it may belong to someone
 * else).
 */

/**
 * Payloads smaller than this are framed by copy: copying a keystroke costs less than the views
 * and the bookkeeping that would spare it.
 */
export const HEADROOM_MIN = 4096;

/** The transport's own frame header at most, in front of ours (a WebSocket frame's: 14 bytes). */
export const TRANSPORT_HEADROOM = 14;
/**
 * A data frame's header at most (the 5-byte stream header, the data tag and a 5-group varint),
 * with the transport's in front of it: a payload with this much room goes to the socket as one
 * buffer (TLS copies a write of several buffers into one before it encrypts).
 */
export const FRAME_HEADROOM = 11 + TRANSPORT_HEADROOM;
/** A stream message's header at most: the type byte and a 5-group varint. */
export const MESSAGE_HEADROOM = 6;

const room = new WeakMap<Uint8Array, number>();

/**
 * The payload of `whole` after its first `headroom` bytes, which become its room. `whole` must be
 * the caller's own (nothing else may hold a view of those bytes).
 */
export function reserveHeadroom(whole: Uint8Array, headroom: number): Uint8Array {
  const view = whole.subarray(headroom);
  room.set(view, headroom);
  return view;
}

/** A zero-filled payload of `n` bytes with `headroom` free bytes in front of it. */
export function allocWithHeadroom(n: number, headroom: number): Uint8Array {
  return reserveHeadroom(new Uint8Array(headroom + n), headroom);
}

/**
 * If `payload` has at least `need` free bytes in front, takes exactly `need` of them and returns
 * the view that starts `need` bytes earlier (the caller writes its header there); the room left
 * in front of that view stays available to the next layer. Otherwise returns null (copy).
 */
export function takeHeadroom(payload: Uint8Array, need: number): Uint8Array | null {
  const have = room.get(payload);
  if (have === undefined || have < need) return null;
  room.delete(payload);
  const grown = new Uint8Array(payload.buffer, payload.byteOffset - need, payload.length + need);
  if (have > need) room.set(grown, have - need);
  return grown;
}

/**
 * Carves `whole` (the caller's own) into `count` payloads of `pieceBytes`, each with `headroom`
 * free bytes in front: reads fill several payloads at once (a vectored read) and each goes out
 * as one frame without a copy.
 */
export function carveWithHeadroom(whole: Uint8Array, count: number, pieceBytes: number, headroom: number): Uint8Array[] {
  const stride = headroom + pieceBytes;
  if (whole.length < count * stride) throw new RangeError('buffer too small for its pieces');
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(reserveHeadroom(whole.subarray(i * stride, (i + 1) * stride), headroom));
  return out;
}

/** The first `n` bytes of `payload`, keeping its room (the room stays one-shot: `payload` loses it). */
export function headroomPrefix(payload: Uint8Array, n: number): Uint8Array {
  if (n === payload.length) return payload;
  const have = room.get(payload);
  const prefix = payload.subarray(0, n);
  if (have !== undefined) {
    room.delete(payload);
    room.set(prefix, have);
  }
  return prefix;
}
