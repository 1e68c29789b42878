/** Young collections paced by the data path: the gate (pure), and the collection itself (real V8). */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CHURN_BYTES, ChurnGate, noteBufferChurn, youngCollector } from '../../src/platform/buffer-churn.js';

/** Resolves with the kind of the next young collection V8 reports (an event, not a sleep). */
function nextMinorGc(): Promise<number> {
  return new Promise((resolve) => {
    const obs = new PerformanceObserver((list) => {
      const kinds = list.getEntries().map((e) => (e as unknown as { detail?: { kind?: number } }).detail?.kind);
      const minor = kinds.find((k) => k === constants.NODE_PERFORMANCE_GC_MINOR);
      if (minor === undefined) return;
      obs.disconnect();
      resolve(minor);
    });
    obs.observe({ entryTypes: ['gc'] });
  });
}

describe('ChurnGate', () => {
  it('is due once per `every` bytes, and counts again from zero after', () => {
    const g = new ChurnGate(100);
    expect(g.note(60)).toBe(false);
    expect(g.note(39)).toBe(false);
    expect(g.note(1)).toBe(true);
    expect(g.note(99)).toBe(false);
    expect(g.note(1)).toBe(true);
  });

  it('is due once for one message bigger than `every` (no backlog of collections)', () => {
    const g = new ChurnGate(100);
    expect(g.note(1000)).toBe(true);
    expect(g.note(50)).toBe(false);
  });
});

describe('youngCollector', () => {
  it('runs a young collection, without leaving a global gc behind', async () => {
    const collect = youngCollector();
    expect(collect).toBeTypeOf('function');
    expect(youngCollector()).toBe(collect); // made once
    const seen = nextMinorGc();
    collect!();
    expect(await seen).toBe(constants.NODE_PERFORMANCE_GC_MINOR);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    // The flag was taken off again: contexts made later do not get gc either.
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });

  it('collects, synchronously, once the data path has moved CHURN_BYTES', () => {
    const youngUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;
    let garbage: unknown[] | null = [];
    for (let i = 0; i < 20_000; i++) garbage.push({ i });
    garbage = null;
    const before = youngUsed();
    noteBufferChurn(CHURN_BYTES - 1);
    expect(youngUsed()).toBeGreaterThanOrEqual(before); // not due: nothing collected (reading the figure allocates a little)
    noteBufferChurn(1);
    expect(youngUsed()).toBeLessThan(before / 2);
  });
});
