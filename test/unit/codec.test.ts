import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { dataPayloadLength, decodeFrame, encodeData, encodeFrame, patchStreamId, peekStreamId } from '../../src/protocol/codec.js';
import { ProtocolError } from '../../src/errors.js';
import { MAX_FRAME_BYTES } from '../../src/protocol/limits.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('codec', () => {
  it('hand-written data frames are byte-identical to protobufjs', () => {
    fc.assert(
      fc.property(u32, fc.uint8Array({ maxLength: 70_000 }), (id, payload) => {
        const ours = encodeData(id, payload);
        // protobufjs omits a zero stream id and zero-length bytes; ours always writes the header.
        const theirs = cmdop.v1.Frame.encode({ streamId: id, data: payload }).finish();
        const expected = id === 0 ? new Uint8Array([0x0d, 0, 0, 0, 0, ...theirs]) : theirs;
        if (payload.length > 0) expect(Buffer.from(ours).equals(Buffer.from(expected))).toBe(true);
        const d = decodeFrame(ours);
        expect(d.kind).toBe('data');
        expect(d.streamId).toBe(id);
        expect(Buffer.from(d.data!).equals(Buffer.from(payload))).toBe(true);
        expect(dataPayloadLength(ours)).toBe(payload.length);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips control frames and decodes with protobufjs too', () => {
    fc.assert(
      fc.property(u32, fc.string(), fc.nat({ max: 16 * 1024 * 1024 }), (id, s, n) => {
        const bytes = encodeFrame(id, { open: { target: s, service: 'svc', method: s, window: n, end: n % 2 === 0 } });
        const d = decodeFrame(bytes);
        expect(d.kind).toBe('open');
        expect(d.streamId).toBe(id);
        expect(d.frame!.open!.target).toBe(s);
        expect(d.frame!.open!.window).toBe(n);
        expect(cmdop.v1.Frame.decode(bytes).streamId).toBe(id);
      }),
      { numRuns: 200 },
    );
  });

  it('patches the stream id in place', () => {
    const bytes = encodeFrame(7, { window: { credit: 100 } });
    expect(peekStreamId(bytes)).toBe(7);
    patchStreamId(bytes, 0xfffffffe);
    const d = decodeFrame(bytes);
    expect(d.streamId).toBe(0xfffffffe);
    expect(d.frame!.window!.credit).toBe(100);
  });

  it('fuzz: arbitrary bytes decode or throw ProtocolError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (junk) => {
        for (const bytes of [junk, new Uint8Array([0x0d, 1, 0, 0, 0, ...junk])]) {
          try {
            const d = decodeFrame(bytes);
            expect(typeof d.kind).toBe('string');
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects frames without a header, without a kind, or over the size limit', () => {
    expect(() => decodeFrame(new Uint8Array([0x12, 0]))).toThrow(ProtocolError);
    expect(() => decodeFrame(new Uint8Array([0x0d, 1, 0, 0, 0]))).toThrow(/no frame kind/);
    expect(() => decodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(/exceeds/);
    // A second stream id field later in the frame must not be able to re-target it.
    const tricky = new Uint8Array([...encodeFrame(3, { close: {} }), 0x0d, 9, 0, 0, 0]);
    expect(() => decodeFrame(tricky)).toThrow(ProtocolError);
  });
});
