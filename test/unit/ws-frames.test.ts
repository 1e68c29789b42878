/**
 * The link's own WebSocket framing, judged against `ws`'s: frames ws writes (masked with random
 * keys, fragmented, with pings between the fragments) read back the same messages through our
 * reader however the byte stream is cut and coalesced; frames we write read back through ws's own
 * Receiver; every framing error is a WsFrameError with the RFC's close code; random bytes never
 * throw anything else.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import {
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  WS_MAX_HEADER,
  WsFrameError,
  WsFrameReader,
  closePayload,
  encodeWsFrame,
  headerLength,
  parseClose,
  writeHeader,
} from '../../src/link/ws-frames.js';
import { HEADROOM_MIN, TRANSPORT_HEADROOM, takeHeadroom } from '../../src/protocol/headroom.js';

/** ws's frame writer and reader (exported by ws, not by its type declarations). */
interface WsSender {
  frame(data: Buffer, o: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[];
}
type WsReceiver = NodeJS.EventEmitter & { write(chunk: Buffer): boolean };
const { Receiver, Sender } = createRequire(import.meta.url)('ws') as { Sender: WsSender; Receiver: new (o: { isServer: boolean; maxPayload: number }) => WsReceiver };

type Frame = { fin: boolean; opcode: number; data: Uint8Array };
type Got = Array<{ kind: 'message'; binary: boolean; data: string } | { kind: 'control'; opcode: number; data: string }>;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The wire bytes ws writes for `frames` (client frames masked with ws's random keys). */
function wsWire(frames: Frame[], mask: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const f of frames) parts.push(...Sender.frame(Buffer.from(f.data), { fin: f.fin, opcode: f.opcode, mask, readOnly: true, rsv1: false }));
  return Buffer.concat(parts);
}

function reader(expectMasked: boolean, got: Got, maxPayload = 1 << 20): WsFrameReader {
  return new WsFrameReader({
    expectMasked,
    maxPayload,
    onMessage: (data, binary) => got.push({ kind: 'message', binary, data: hex(data) }),
    onControl: (opcode, data) => got.push({ kind: 'control', opcode, data: hex(data) }),
  });
}

/** Pushes `wire` cut at `cuts` (each chunk its own copy, as socket reads are). */
function pushCut(r: WsFrameReader, wire: Buffer, cuts: number[]): void {
  const at = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const c of [...at, wire.length]) {
    if (c > from) r.push(Buffer.from(wire.subarray(from, c)));
    from = Math.max(from, c);
  }
}

const sizes = fc.oneof(fc.constantFrom(0, 1, 125, 126, 127, 65535, 65536, 70000), fc.integer({ min: 0, max: 3000 }));
const payload = sizes.chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));

/** A message as frames: whole, or fragmented with pings between the fragments; and what it reads as. */
const message = fc.record({ binary: fc.boolean(), parts: fc.array(payload, { minLength: 1, maxLength: 3 }), pings: fc.array(fc.uint8Array({ maxLength: 125 }), { maxLength: 2 }) });

describe('WebSocket framing', () => {
  it("ws's frames (masked, fragmented, pings between fragments) read back the same, cut and coalesced anywhere", () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (msgs, masked, cuts) => {
        const frames: Frame[] = [];
        const want: Got = [];
        for (const m of msgs) {
          m.parts.forEach((p, i) => {
            frames.push({ fin: i === m.parts.length - 1, opcode: i === 0 ? (m.binary ? OP_BINARY : OP_TEXT) : 0, data: p });
            const ping = m.pings[i];
            if (ping && i < m.parts.length - 1) {
              frames.push({ fin: true, opcode: OP_PING, data: ping });
              want.push({ kind: 'control', opcode: OP_PING, data: hex(ping) });
            }
          });
          want.push({ kind: 'message', binary: m.binary, data: hex(Buffer.concat(m.parts)) });
        }
        const got: Got = [];
        pushCut(reader(masked, got), wsWire(frames, masked), cuts);
        expect(got).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });

  it("our frames read back through ws's own Receiver, as server and as client", async () => {
    for (const masked of [false, true]) {
      for (const n of [0, 5, 125, 126, 65535, 65536, 300_000]) {
        const data = Buffer.alloc(n, n % 251);
        const recv = new Receiver({ isServer: masked, maxPayload: 1 << 20 });
        const got = new Promise<Buffer>((resolve) => recv.on('message', (d: Buffer) => resolve(d)));
        recv.write(encodeWsFrame(OP_BINARY, data, masked));
        expect((await got).equals(data)).toBe(true);
        expect(encodeWsFrame(OP_BINARY, data, masked).length).toBe(headerLength(n, masked) + n);
      }
    }
  });

  it('a masked payload is unmasked right wherever it sits in memory (every alignment, a word at a time)', () => {
    const data = randomBytes(1000);
    for (let pad = 0; pad < 8; pad++) {
      const wire = wsWire([{ fin: true, opcode: OP_BINARY, data }], true);
      const mem = Buffer.alloc(pad + wire.length);
      wire.copy(mem, pad);
      const got: Got = [];
      reader(true, got).push(mem.subarray(pad));
      expect(got).toEqual([{ kind: 'message', binary: true, data: hex(data) }]);
    }
  });

  it('a close frame carries its code and reason; ws reads it', async () => {
    const recv = new Receiver({ isServer: false, maxPayload: 1 << 20 });
    const got = new Promise<[number, string]>((resolve) => recv.on('conclude', (code: number, reason: Buffer) => resolve([code, reason.toString()])));
    recv.write(encodeWsFrame(OP_CLOSE, closePayload(4001, 'going away'), false));
    expect(await got).toEqual([4001, 'going away']);
    expect(parseClose(closePayload(1000, 'é'))).toEqual({ code: 1000, reason: 'é' });
    expect(parseClose(new Uint8Array(0)).code).toBe(1005);
  });

  it('a big payload read in one chunk keeps its header bytes as headroom: forwarded, it goes out in one buffer', () => {
    expect(WS_MAX_HEADER).toBe(TRANSPORT_HEADROOM);
    for (const n of [HEADROOM_MIN, 65536, 200_000]) {
      const data = Buffer.alloc(n, 7);
      const wire = wsWire([{ fin: true, opcode: OP_BINARY, data }], true);
      let view: Uint8Array | null = null;
      new WsFrameReader({ expectMasked: true, maxPayload: 1 << 20, onMessage: (d) => (view = d), onControl: () => undefined }).push(wire);
      // Forwarded by a server (no mask): the header fits where the client's masked one was.
      const h = headerLength(n, false);
      const whole = takeHeadroom(view!, h);
      expect(whole).not.toBeNull();
      expect(whole!.buffer).toBe(wire.buffer);
      // The header written there (as the transport does) makes a frame equal to one encoded by copy.
      writeHeader(whole!, 0, OP_BINARY, n, false);
      expect(Buffer.from(whole!).equals(encodeWsFrame(OP_BINARY, data, false))).toBe(true);
    }
    // A small payload, or one whose header came in an earlier chunk, has no room.
    let small: Uint8Array | null = null;
    new WsFrameReader({ expectMasked: false, maxPayload: 1 << 20, onMessage: (d) => (small = d), onControl: () => undefined }).push(encodeWsFrame(OP_BINARY, Buffer.alloc(100), false));
    expect(takeHeadroom(small!, 2)).toBeNull();
    const big = encodeWsFrame(OP_BINARY, Buffer.alloc(70_000), false);
    let split: Uint8Array | null = null;
    const r = new WsFrameReader({ expectMasked: false, maxPayload: 1 << 20, onMessage: (d) => (split = d), onControl: () => undefined });
    r.push(big.subarray(0, 10));
    r.push(big.subarray(10));
    expect(split!.length).toBe(70_000);
    expect(takeHeadroom(split!, 10)).toBeNull();
  });

  const bad: Array<[string, Buffer, number, boolean?]> = [
    ['an RSV bit (no extension was negotiated)', Buffer.from([0xc2, 0x00]), CLOSE_PROTOCOL_ERROR],
    ['an unknown data opcode', Buffer.from([0x83, 0x00]), CLOSE_PROTOCOL_ERROR],
    ['an unknown control opcode', Buffer.from([0x8b, 0x00]), CLOSE_PROTOCOL_ERROR],
    ['a fragmented control frame', Buffer.from([0x09, 0x00]), CLOSE_PROTOCOL_ERROR],
    ['a control frame over 125 bytes', Buffer.concat([Buffer.from([0x89, 126, 0, 126]), Buffer.alloc(126)]), CLOSE_PROTOCOL_ERROR],
    ['a masked frame from a server', Buffer.from([0x82, 0x80, 1, 2, 3, 4]), CLOSE_PROTOCOL_ERROR],
    ['an unmasked frame from a client', Buffer.from([0x82, 0x00]), CLOSE_PROTOCOL_ERROR, true],
    ['a continuation with nothing to continue', Buffer.from([0x80, 0x00]), CLOSE_PROTOCOL_ERROR],
    ['a new message inside a fragmented one', Buffer.from([0x02, 0x01, 0x61, 0x82, 0x00]), CLOSE_PROTOCOL_ERROR],
    ['a message over the limit', Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0]), CLOSE_TOO_BIG],
    ['a length over 2^53', Buffer.from([0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), CLOSE_TOO_BIG],
    ['fragments that add up over the limit', Buffer.concat([Buffer.from([0x02, 126, 0x03, 0x00]), Buffer.alloc(768), Buffer.from([0x80, 126, 0x03, 0x00])]), CLOSE_TOO_BIG],
  ];
  for (const [what, wire, code, masked] of bad) {
    it(`refuses ${what} with close code ${code}`, () => {
      const err = (() => {
        try {
          reader(masked ?? false, [], 1024).push(wire);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(WsFrameError);
      expect((err as WsFrameError).closeCode).toBe(code);
    });
  }

  it('refuses malformed close frames', () => {
    expect(() => parseClose(new Uint8Array([3]))).toThrow(WsFrameError);
    expect(() => parseClose(new Uint8Array([0x03, 0xed]))).toThrow(/invalid code 1005/);
    expect(() => parseClose(new Uint8Array([0x03, 0xe8, 0xff]))).toThrow(/UTF-8/);
  });

  it('random bytes: only WsFrameError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }), (bytes, masked, cuts) => {
        try {
          pushCut(reader(masked, [], 4096), Buffer.from(bytes), cuts);
        } catch (e) {
          expect(e).toBeInstanceOf(WsFrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
