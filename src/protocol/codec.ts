/**
 * Frame codec. Pure: bytes in, bytes out, no I/O and no Node-only APIs (a browser bundle reuses it).
 *
 * Every frame starts with a fixed 5-byte header, `0x0D` (field 1, wire type fixed32) and the
 * stream id as 4 little-endian bytes, followed by the rest of the protobuf `Frame`. That is a
 * valid protobuf encoding, and it lets the relay read and rewrite the stream id in place.
 * Data frames (the hot path) are written and parsed by hand; their bytes are exactly what
 * protobufjs would produce for the same Frame (a property test checks this).
 */
import { cmdop } from './gen/cmdop.js';
import { ProtocolError } from '../errors.js';
import { MAX_FRAME_BYTES } from './limits.js';
import { readVarint, varintRead, varintSize, writeVarint } from './varint.js';
import { HEADROOM_MIN, takeHeadroom } from './headroom.js';
import { allocUnfilled } from './bytes.js';

const Frame = cmdop.v1.Frame;
export type FrameKind = 'data' | 'window' | 'open' | 'close' | 'error' | 'hello' | 'challenge' | 'proof' | 'welcome' | 'ping' | 'pong';
/** The fields of a Frame other than the stream id. */
export type FrameBody = Omit<cmdop.v1.IFrame, 'streamId'>;

export const HEADER_BYTES = 5;
const TAG_STREAM_ID = 0x0d; // field 1, fixed32
const TAG_DATA = 0x12; // field 2, length-delimited

export interface DecodedFrame {
  streamId: number;
  kind: FrameKind;
  /** Set for data frames: a view into the received bytes, not a copy. */
  data: Uint8Array | undefined;
  /** Set for every other kind. */
  frame: cmdop.v1.Frame | undefined;
}

function writeHeader(out: Uint8Array, streamId: number): void {
  out[0] = TAG_STREAM_ID;
  out[1] = streamId & 0xff;
  out[2] = (streamId >>> 8) & 0xff;
  out[3] = (streamId >>> 16) & 0xff;
  out[4] = (streamId >>> 24) & 0xff;
}

/**
 * Encodes a data frame: the header goes into the payload's headroom when it has some (no copy,
 * see headroom.ts), else payload and header are copied once into a new buffer.
 */
export function encodeData(streamId: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const headerBytes = HEADER_BYTES + 1 + varintSize(len);
  let out = len >= HEADROOM_MIN ? takeHeadroom(payload, headerBytes) : null;
  if (!out) {
    out = allocUnfilled(headerBytes + len);
    out.set(payload, headerBytes);
  }
  writeHeader(out, streamId);
  out[5] = TAG_DATA;
  writeVarint(out, 6, len);
  return out;
}

/** Encodes any frame. `body` must set exactly one kind. */
export function encodeFrame(streamId: number, body: FrameBody): Uint8Array {
  if (body.data) return encodeData(streamId, body.data);
  const rest = Frame.encode(body as cmdop.v1.IFrame).finish();
  const out = allocUnfilled(HEADER_BYTES + rest.length);
  writeHeader(out, streamId);
  out.set(rest, HEADER_BYTES);
  return out;
}

/** Reads the stream id from the header, or throws if the header is missing. */
export function peekStreamId(bytes: Uint8Array): number {
  if (bytes.length < HEADER_BYTES || bytes[0] !== TAG_STREAM_ID) throw new ProtocolError('malformed frame: missing stream header');
  return (bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16) | (bytes[4]! << 24)) >>> 0;
}

/** Rewrites the stream id in place (the relay's remap; no re-encoding). */
export function patchStreamId(bytes: Uint8Array, streamId: number): void {
  writeHeader(bytes, streamId);
}

/**
 * Length of a canonical data frame's payload, or -1 if the frame is not a canonical data frame
 * (then decode it fully). Lets the relay account flow control without decoding.
 */
export function dataPayloadLength(bytes: Uint8Array): number {
  if (bytes.length < 7 || bytes[5] !== TAG_DATA) return -1;
  if (readVarint(bytes, 6) !== 0) return -1;
  return varintRead.end + varintRead.value === bytes.length ? varintRead.value : -1;
}

/** Decodes a frame. Any malformed input throws ProtocolError; nothing else escapes. */
export function decodeFrame(bytes: Uint8Array): DecodedFrame {
  if (bytes.length > MAX_FRAME_BYTES) throw new ProtocolError(`frame of ${bytes.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`);
  const streamId = peekStreamId(bytes);
  const len = dataPayloadLength(bytes);
  if (len >= 0) return { streamId, kind: 'data', data: bytes.subarray(bytes.length - len), frame: undefined };
  let frame: cmdop.v1.Frame;
  try {
    frame = Frame.decode(bytes);
  } catch (err) {
    throw new ProtocolError('malformed frame', { cause: err });
  }
  if (frame.streamId !== streamId) throw new ProtocolError('malformed frame: stream id repeated');
  const kind = frame.kind as FrameKind | undefined;
  if (!kind) throw new ProtocolError('malformed frame: no frame kind');
  if (kind === 'data') return { streamId, kind, data: frame.data ?? new Uint8Array(0), frame: undefined };
  return { streamId, kind, data: undefined, frame };
}
