/**
 * Headroom framing: a payload framed in place is byte-identical to one framed by copy, the room
 * is one-shot (a payload framed twice never shares header bytes between the two frames), and the
 * reader reassembles in-place frames split and coalesced in every way.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeFrame, encodeData } from '../../src/protocol/codec.js';
import { allocWithHeadroom, carveWithHeadroom, FRAME_HEADROOM, headroomPrefix, HEADROOM_MIN, MESSAGE_HEADROOM, reserveHeadroom, takeHeadroom } from '../../src/protocol/headroom.js';
import { frameMessage, MessageReader } from '../../src/protocol/messages.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const HEAD = FRAME_HEADROOM + MESSAGE_HEADROOM;

/** `bytes` as a payload with `room` free bytes in front, filled with junk that must never leak. */
function roomy(bytes: Uint8Array, room: number): Uint8Array {
  const whole = new Uint8Array(room + bytes.length).fill(0xee);
  whole.set(bytes, room);
  return reserveHeadroom(whole, room);
}

describe('headroom', () => {
  it('a data frame written into headroom is byte-identical to one copied', () => {
    fc.assert(
      fc.property(u32, fc.uint8Array({ maxLength: 70_000 }), fc.integer({ min: 0, max: 20 }), (id, payload, room) => {
        const copied = encodeData(id, payload);
        const inPlace = encodeData(id, roomy(payload, room));
        expect(Buffer.from(inPlace).equals(Buffer.from(copied))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  /** Small frames come from Buffer's shared pool, so a copy is told by its bytes, not its ArrayBuffer. */
  const overlaps = (a: Uint8Array, b: Uint8Array) => a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;

  it('a message framed into headroom, then its frame, equals both framed by copy', () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 70_000 }), (id, type, body) => {
        const copied = encodeData(id, frameMessage(type, body));
        const msg = frameMessage(type, roomy(body, HEAD));
        const inPlace = encodeData(id, msg);
        expect(Buffer.from(inPlace).equals(Buffer.from(copied))).toBe(true);
        // A big body's frame starts inside the one buffer: no copy was made. A small one was copied.
        if (body.length >= HEADROOM_MIN) expect(inPlace.buffer).toBe(msg.buffer);
        else expect(overlaps(inPlace, msg)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('frameMessage of a big body without headroom leaves room for the frame header (one copy in all)', () => {
    const body = new Uint8Array(HEADROOM_MIN).fill(7);
    const msg = frameMessage(1, body);
    const frame = encodeData(9, msg);
    expect(frame.buffer).toBe(msg.buffer);
    expect(decodeFrame(frame).data).toEqual(Uint8Array.from([1, 0x80, 0x20, ...body])); // type 1, varint 4096, the body
  });

  it('the room is one-shot: framing the same payload twice copies the second time', () => {
    const bytes = new Uint8Array(HEADROOM_MIN).map((_, i) => i);
    const body = roomy(bytes, HEAD);
    const a = encodeData(1, body);
    const b = encodeData(2, body);
    expect(a.buffer).toBe(body.buffer);
    expect(b.buffer).not.toBe(a.buffer);
    expect(decodeFrame(a).streamId).toBe(1);
    expect(decodeFrame(b).streamId).toBe(2);
    expect(decodeFrame(a).data).toEqual(bytes);
    expect(takeHeadroom(body, 1)).toBeNull();
  });

  it('a subarray has no room, and too little room means a copy', () => {
    const p = allocWithHeadroom(8, 4);
    expect(takeHeadroom(p.subarray(1), 1)).toBeNull();
    expect(takeHeadroom(p, 5)).toBeNull();
    const grown = takeHeadroom(p, 3)!;
    expect(grown.length).toBe(11);
    expect(takeHeadroom(grown, 1)!.length).toBe(12);
  });

  it('in-place messages split at every byte boundary and coalesced reassemble exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: HEADROOM_MIN, maxLength: HEADROOM_MIN + 300 })), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (bodies, cutsRaw) => {
        const frames = bodies.map((b, i) => frameMessage(1 + (i % 5), roomy(b, HEAD)));
        const wire = Buffer.concat(frames);
        const got: Array<[number, number[]]> = [];
        const reader = new MessageReader((t, body) => got.push([t, [...body]]));
        const cuts = [...new Set(cutsRaw.map((c) => c % (wire.length + 1)))].sort((x, y) => x - y);
        let at = 0;
        for (const c of [...cuts, wire.length]) {
          reader.push(wire.subarray(at, c));
          at = c;
        }
        expect(got).toEqual(bodies.map((b, i) => [1 + (i % 5), [...b]]));
      }),
      { numRuns: 300 },
    );
  });

  it('carved pieces each frame in place without touching their neighbours; a prefix keeps the room', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: HEADROOM_MIN + 1, max: HEADROOM_MIN + 64 }), u32, (count, size, id) => {
        const whole = new Uint8Array(count * (FRAME_HEADROOM + size));
        const pieces = carveWithHeadroom(whole, count, size, FRAME_HEADROOM);
        pieces.forEach((p, i) => p.fill(i + 1));
        const last = headroomPrefix(pieces[count - 1]!, size - 1);
        const frames = [...pieces.slice(0, -1), last].map((p) => encodeData(id, p));
        frames.forEach((f, i) => {
          expect(f.buffer).toBe(whole.buffer);
          expect(decodeFrame(f).data).toEqual(new Uint8Array(i === count - 1 ? size - 1 : size).fill(i + 1));
          expect(decodeFrame(f).streamId).toBe(id);
        });
        // The uncut last piece lost its room to its prefix.
        expect(takeHeadroom(pieces[count - 1]!, 1)).toBeNull();
      }),
      { numRuns: 100 },
    );
    expect(() => carveWithHeadroom(new Uint8Array(10), 2, 4, 2)).toThrow(RangeError);
  });
});
