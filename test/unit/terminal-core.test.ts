import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ScrollbackRing } from '../../src/agent/terminal/ring.js';
import { MessageReader, frameMessage, MSG_OUTPUT, MSG_EVENT } from '../../src/protocol/messages.js';
import { ProtocolError } from '../../src/errors.js';

describe('scrollback ring', () => {
  it('holds exactly the last `capacity` bytes at their absolute offsets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 30 }), (cap, chunks) => {
        const ring = new ScrollbackRing(cap);
        const all: number[] = [];
        for (const c of chunks) {
          ring.append(c);
          all.push(...c);
        }
        expect(ring.end).toBe(all.length);
        expect(ring.start).toBe(Math.max(0, all.length - cap));
        for (const from of [ring.start, Math.floor((ring.start + ring.end) / 2), ring.end]) {
          expect(Array.from(ring.since(from)!)).toEqual(all.slice(from));
        }
        if (ring.start > 0) expect(ring.since(ring.start - 1)).toBeNull();
        expect(ring.since(ring.end + 1)).toBeNull();
      }),
    );
  });
});

describe('stream messages', () => {
  it('reassemble whatever way the bytes are cut', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 3000 })), { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 50 }), (msgs, cuts) => {
        const wire = Buffer.concat(msgs.map(([t, b]) => frameMessage(t, b)));
        const got: Array<[number, number[]]> = [];
        const r = new MessageReader((t, b) => got.push([t, Array.from(b)]));
        let pos = 0;
        let i = 0;
        while (pos < wire.length) {
          const n = cuts[i++ % cuts.length]!;
          r.push(new Uint8Array(wire.subarray(pos, pos + n)));
          pos += n;
        }
        expect(got).toEqual(msgs.map(([t, b]) => [t, Array.from(b)]));
        expect(r.buffered).toBe(0);
      }),
    );
  });

  it('reassemble when split at every byte boundary, and when coalesced whole (issue 14: one linear reader)', () => {
    const msgs: Array<[number, Uint8Array]> = [[MSG_OUTPUT, new Uint8Array(300).fill(7)], [MSG_EVENT, new Uint8Array(0)], [MSG_OUTPUT, new Uint8Array(129).fill(1)], [MSG_EVENT, new Uint8Array([1, 2, 3])]];
    const wire = Buffer.concat(msgs.map(([t, b]) => frameMessage(t, b)));
    const want = msgs.map(([t, b]) => [t, Array.from(b)]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const got: Array<[number, number[]]> = [];
      const r = new MessageReader((t, b) => got.push([t, Array.from(b)]));
      r.push(new Uint8Array(wire.subarray(0, cut)));
      r.push(new Uint8Array(wire.subarray(cut)));
      expect(got).toEqual(want);
      expect(r.buffered).toBe(0);
    }
    // One byte at a time.
    const got: Array<[number, number[]]> = [];
    const r = new MessageReader((t, b) => got.push([t, Array.from(b)]));
    for (const byte of wire) r.push(new Uint8Array([byte]));
    expect(got).toEqual(want);
  });

  it('a message of several MiB in 1 KiB chunks arrives whole, with its bytes intact', () => {
    const body = new Uint8Array(6 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const wire = frameMessage(MSG_OUTPUT, body);
    let got: Uint8Array | null = null;
    const r = new MessageReader((_t, b) => (got = new Uint8Array(b)));
    for (let pos = 0; pos < wire.length; pos += 1024) r.push(wire.subarray(pos, pos + 1024));
    expect(got).not.toBeNull();
    expect(Buffer.compare(Buffer.from(got!), Buffer.from(body))).toBe(0);
  });

  it('refuse oversize and malformed headers', () => {
    const r = new MessageReader(() => undefined, 100);
    expect(() => r.push(frameMessage(MSG_OUTPUT, new Uint8Array(101)))).toThrow(ProtocolError);
    expect(() => new MessageReader(() => undefined).push(new Uint8Array([0, 1, 2]))).toThrow(ProtocolError);
    expect(() => new MessageReader(() => undefined).push(new Uint8Array([MSG_EVENT, 0xff, 0xff, 0xff, 0xff, 0xff, 1]))).toThrow(ProtocolError);
  });
});
