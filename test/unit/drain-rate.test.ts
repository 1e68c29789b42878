/** The Retry-After hint a busy relay gives: the line ahead over the recent rate, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { DrainRate, MAX_RETRY_AFTER_S, MIN_RETRY_AFTER_S } from '../../src/relay/drain-rate.js';

describe('DrainRate', () => {
  it('tells a herd to spread over the time the relay needs to drain it', () => {
    let t = 0;
    const r = new DrainRate(() => t);
    // 400 handshakes a second for three seconds.
    for (let ms = 0; ms < 3000; ms += 5) {
      t = ms;
      r.note(), r.note();
    }
    t = 3000;
    expect(r.perSecond()).toBeCloseTo(400, -1);
    expect(r.retryAfterS(3000)).toBe(8); // 3,000 ahead at ~400 a second
    expect(r.retryAfterS(10)).toBe(MIN_RETRY_AFTER_S);
    expect(r.retryAfterS(1_000_000)).toBe(MAX_RETRY_AFTER_S);
  });

  it('forgets old rates: a relay that finished nothing lately counts as one a second', () => {
    let t = 0;
    const r = new DrainRate(() => t);
    for (let i = 0; i < 1000; i++) r.note();
    t = 5000;
    expect(r.perSecond()).toBe(0);
    expect(r.retryAfterS(3)).toBe(3);
  });
});
