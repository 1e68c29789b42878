import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Holds } from '../../src/agent/terminal/holds.js';

/** Issue 12, defect 4: the resume-hold timer is owned, so an earlier drop's timer cannot release a later hold. */
describe('Holds (owned resume-hold timers)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function track(): { holds: Holds; held: Set<string>; events: string[] } {
    const held = new Set<string>();
    const events: string[] = [];
    const holds = new Holds(
      (n) => (held.add(n), events.push(`pause ${n}`)),
      (n) => (held.delete(n), events.push(`resume ${n}`)),
    );
    return { holds, held, events };
  }

  it('a hold ends when its time runs out', () => {
    const { holds, held } = track();
    holds.hold('op', 30_000);
    expect(held.has('op')).toBe(true);
    vi.advanceTimersByTime(29_999);
    expect(held.has('op')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(held.has('op')).toBe(false);
    expect(holds.size).toBe(0);
  });

  it('drop, return, drop again: the first drop\'s timer does not release the second hold early', () => {
    const { holds, held, events } = track();
    holds.hold('op', 30_000); // t=0: the operator's link drops
    vi.advanceTimersByTime(20_000);
    holds.release('op'); // t=20s: it comes back
    vi.advanceTimersByTime(5_000);
    holds.hold('op', 30_000); // t=25s: it drops again
    vi.advanceTimersByTime(10_000); // t=35s: where the first timer would have fired
    expect(held.has('op')).toBe(true);
    vi.advanceTimersByTime(20_000); // t=55s: the second hold's time is up
    expect(held.has('op')).toBe(false);
    expect(events).toEqual(['pause op', 'resume op', 'pause op', 'resume op']);
  });

  it('holding again restarts the timer without pausing twice; dispose cancels without resuming', () => {
    const { holds, held, events } = track();
    holds.hold('a', 1000);
    vi.advanceTimersByTime(900);
    holds.hold('a', 1000);
    vi.advanceTimersByTime(900);
    expect(held.has('a')).toBe(true);
    holds.hold('b', 1000);
    holds.dispose();
    vi.advanceTimersByTime(10_000);
    expect(events).toEqual(['pause a', 'pause b']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
