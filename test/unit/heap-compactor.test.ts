/** The relay's compaction after a herd of links (fake clock), and the collection itself (real V8). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HerdCompactor } from '../../src/relay/heap-compactor.js';
import { reduceHeap } from '../../src/platform/heap.js';

describe('HerdCompactor', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('compacts once, after a herd of at least minLinks, when no link has come for quietMs', () => {
    const compact = vi.fn();
    const c = new HerdCompactor({ minLinks: 3, quietMs: 1000, compact });
    c.note();
    c.note();
    vi.advanceTimersByTime(5000);
    expect(compact).not.toHaveBeenCalled(); // two links are not a herd
    c.note();
    vi.advanceTimersByTime(999);
    c.note(); // the herd goes on: the quiet starts again
    vi.advanceTimersByTime(999);
    expect(compact).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(compact).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000);
    expect(compact).toHaveBeenCalledTimes(1);
    // The count starts again: the next herd compacts again.
    for (let i = 0; i < 3; i++) c.note();
    vi.advanceTimersByTime(1000);
    expect(compact).toHaveBeenCalledTimes(2);
  });

  it('a stopped compactor never fires', () => {
    const compact = vi.fn();
    const c = new HerdCompactor({ minLinks: 1, quietMs: 1000, compact });
    c.note();
    c.stop();
    vi.advanceTimersByTime(5000);
    expect(compact).not.toHaveBeenCalled();
  });
});

describe('reduceHeap', () => {
  it('runs a full collection: an unreachable object behind a WeakRef is gone after it', async () => {
    let ref: WeakRef<object> | undefined;
    (() => {
      ref = new WeakRef({ payload: new Array(10_000).fill('x') });
    })();
    await new Promise((r) => setImmediate(r)); // a WeakRef's target is kept until the job that made it ends
    await reduceHeap();
    expect(ref!.deref()).toBeUndefined();
  });
});
