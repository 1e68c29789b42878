import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GRANT_BATCH, MAX_WINDOW } from '../../src/protocol/limits.js';
import { ReceiveWindow, SendCredit } from '../../src/protocol/flow.js';
import { ProtocolError } from '../../src/errors.js';

describe('flow control', () => {
  it('a receiver refuses bytes beyond its window', () => {
    const w = new ReceiveWindow(100);
    w.receive(60);
    w.receive(40);
    expect(() => w.receive(1)).toThrow(ProtocolError);
  });

  it('grants in batches of at least half a window, and only what was consumed', () => {
    const w = new ReceiveWindow(100);
    w.receive(100);
    expect(w.consume(30)).toBe(0);
    expect(w.consume(30)).toBe(60);
    w.receive(60);
    expect(() => w.receive(1)).toThrow(ProtocolError);
  });

  it('a big window grants every GRANT_BATCH consumed (flow.v2), not only every half window', () => {
    const w = new ReceiveWindow(16 * 1024 * 1024);
    w.receive(1024 * 1024);
    expect(w.consume(GRANT_BATCH - 1)).toBe(0);
    expect(w.consume(1)).toBe(GRANT_BATCH);
  });

  it('invariant: bytes in flight never exceed the window, whatever the schedule', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 5000 })), { maxLength: 200 }), (size, ops) => {
        const send = new SendCredit(size);
        const recv = new ReceiveWindow(size);
        let buffered = 0;
        for (const [isSend, n] of ops) {
          if (isSend) {
            const k = Math.min(n, send.available);
            if (k === 0) continue;
            send.spend(k);
            recv.receive(k); // never throws: the sender respects its credit
            buffered += k;
          } else {
            const k = Math.min(n, buffered);
            buffered -= k;
            const g = recv.consume(k);
            if (g > 0) send.grant(g);
          }
          expect(buffered).toBeLessThanOrEqual(size);
          expect(send.available + buffered).toBeLessThanOrEqual(size);
        }
      }),
    );
  });

  it('a grant past MAX_WINDOW or a non-positive grant is a protocol error', () => {
    const s = new SendCredit(MAX_WINDOW - 10);
    expect(() => s.grant(11)).toThrow(ProtocolError);
    expect(() => s.grant(0)).toThrow(ProtocolError);
    expect(() => s.grant(-5)).toThrow(ProtocolError);
  });
});
