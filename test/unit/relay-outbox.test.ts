/**
 * The relay's per-hop flow control, pure (Leg + Outbox with a sink that records frames): whatever
 * the peers do, the accounting holds, nothing goes to a destination beyond its grants, and the
 * budget returns to zero when the streams end.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeData, peekStreamId } from '../../src/protocol/codec.js';
import { Leg } from '../../src/relay/leg.js';
import { Outbox, RELAY_LINK_BUDGET, RELAY_MIN_WINDOW, RELAY_SOCKET_HIGH_WATER, RELAY_STREAM_WINDOW } from '../../src/relay/outbox.js';
import { GRANT_BATCH } from '../../src/protocol/limits.js';

function payloadLen(frame: Uint8Array): number {
  // A data frame's payload length: total minus the 5-byte header, the tag and the varint.
  let pos = 6;
  while (frame[pos]! & 0x80) pos++;
  return frame.length - pos - 1;
}

describe('relay Outbox and Leg', () => {
  it('invariants hold under any schedule of sends, grants, drains and aborts', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('send' as const), leg: fc.nat(5), n: fc.integer({ min: 1, max: 300_000 }) }),
      fc.record({ k: fc.constant('grant' as const), leg: fc.nat(5), n: fc.integer({ min: 1, max: 600_000 }) }),
      fc.record({ k: fc.constant('drain' as const) }),
      fc.record({ k: fc.constant('congest' as const) }),
      fc.record({ k: fc.constant('release' as const), leg: fc.nat(5) }),
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 16 * 1024 * 1024 }), { minLength: 1, maxLength: 6 }), fc.array(op, { maxLength: 200 }), fc.boolean(), (windows, ops, v2) => {
        let buffered = 0;
        const sent = new Map<number, number>();
        const box = new Outbox({
          send: (b) => {
            const id = peekStreamId(b);
            sent.set(id, (sent.get(id) ?? 0) + payloadLen(b));
            buffered += b.length;
          },
          bufferedAmount: () => buffered,
        });
        const legs = windows.map((w, i) => {
          const leg = new Leg(i + 1, box.initialWindow(w), w, RELAY_STREAM_WINDOW, false);
          if (v2) leg.grantAfter = Math.min(w / 2, GRANT_BATCH);
          box.adopt(leg);
          return { leg, dstGranted: w, srcGranted: leg.window, live: true };
        });
        legs.forEach((l) => (l.leg.onGrant = (c) => (l.srcGranted += c)));
        for (const o of ops) {
          const l = legs[('leg' in o ? o.leg : 0) % legs.length]!;
          if (o.k === 'send' && l.live) {
            const n = Math.min(o.n, l.leg.srcCredit);
            if (n === 0) continue;
            l.leg.spend(n, 1);
            box.data(l.leg, encodeData(l.leg.dstId, new Uint8Array(n)), n);
          } else if (o.k === 'grant' && l.live) {
            // A receiver with window W that has received R and granted G in all may grant up to R + W - G.
            const n = Math.min(o.n, (sent.get(l.leg.dstId) ?? 0) + windows[l.leg.dstId - 1]! - l.dstGranted);
            if (n <= 0) continue;
            box.credit(l.leg, n);
            l.dstGranted += n;
          } else if (o.k === 'drain') {
            buffered = 0;
            box.pump();
          } else if (o.k === 'congest') {
            buffered = RELAY_SOCKET_HIGH_WATER;
          } else if (o.k === 'release' && l.live) {
            l.live = false;
            box.release(l.leg);
          }
          let committed = 0;
          let held = 0;
          for (const x of legs) {
            if (!x.live) continue;
            expect(x.leg.srcCredit + x.leg.held + x.leg.owed).toBe(x.leg.window);
            expect(x.leg.srcCredit).toBeGreaterThanOrEqual(0);
            expect(x.leg.dstCredit).toBeGreaterThanOrEqual(0);
            // Never more to the destination than it granted.
            expect(sent.get(x.leg.dstId) ?? 0).toBeLessThanOrEqual(x.dstGranted);
            committed += x.leg.committed;
            held += x.leg.held;
          }
          expect(box.committed).toBe(committed);
          expect(box.held).toBe(held);
          // The budget bound: what the relay granted or holds for the link.
          expect(committed).toBeLessThanOrEqual(RELAY_LINK_BUDGET + legs.length * RELAY_MIN_WINDOW);
        }
        for (const x of legs) if (x.live) box.release(x.leg);
        expect(box.committed).toBe(0);
        expect(box.held).toBe(0);
        expect(box.inflight).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a frame larger than the credit left is split, so a small window never stalls a big frame', () => {
    const out: Uint8Array[] = [];
    const box = new Outbox({ send: (b) => out.push(b), bufferedAmount: () => 0 });
    const leg = new Leg(7, 100_000, 100_000, RELAY_STREAM_WINDOW, false);
    box.adopt(leg);
    leg.spend(90_000, 1);
    box.data(leg, encodeData(7, new Uint8Array(90_000)), 90_000);
    leg.spend(10_000, 1);
    box.data(leg, encodeData(7, new Uint8Array(10_000)), 10_000); // the destination granted only 100 000
    expect(out.map(payloadLen)).toEqual([90_000, 10_000]);
    const leg2 = new Leg(9, 50_000, 30_000, RELAY_STREAM_WINDOW, false);
    box.adopt(leg2);
    leg2.spend(50_000, 1);
    box.data(leg2, encodeData(9, new Uint8Array(50_000)), 50_000);
    expect(payloadLen(out.at(-1)!)).toBe(30_000); // the first 30 000 went, split
    box.credit(leg2, 20_000);
    expect(payloadLen(out.at(-1)!)).toBe(20_000); // the rest, once granted
  });
});
