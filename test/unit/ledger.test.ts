import { describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Ledger, totals, type SpendEntry } from '../../src/agent/system/ledger.js';
import { RateLimitError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const PRICES = { 'gpt-x': { prompt: 1, completion: 2 } };

describe('spend ledger', () => {
  it('totals are exact after a crash mid-append, and the next append is not lost', () => {
    const { dir, cleanup } = tempDir();
    const a = new Ledger(dir, PRICES);
    a.record({ session: 's1', model: 'gpt-x', promptTokens: 1000, completionTokens: 500 });
    a.record({ session: 's2', model: 'other', promptTokens: 10, completionTokens: 20 });
    // A crash while appending the third entry leaves half a line.
    appendFileSync(a.path, '{"time":17950000,"session":"s1","model":"gpt-x","promptTok');
    const b = new Ledger(dir, PRICES);
    expect(b.query('model').total).toMatchObject({ calls: 2, promptTokens: 1010, completionTokens: 520, cost: (1000 * 1 + 500 * 2) / 1e6, unpriced: true });
    b.record({ session: 's1', model: 'gpt-x', promptTokens: 1, completionTokens: 1, estimated: true });
    const c = new Ledger(dir, PRICES);
    const byModel = c.query('model');
    expect(byModel.total.calls).toBe(3);
    expect(byModel.groups.map((g) => [g.key, g.calls])).toEqual([['gpt-x', 2], ['other', 1]]);
    expect(byModel.groups.find((g) => g.key === 'other')).toMatchObject({ cost: 0, unpriced: true });
    expect(byModel.groups.find((g) => g.key === 'gpt-x')!.estimated).toBe(true);
    expect(readFileSync(c.path, 'utf8').split('\n').filter(Boolean)).toHaveLength(4); // 3 good lines + the sealed partial one
    cleanup();
  });

  it('the daily budget refuses further AI work until the next UTC day', () => {
    const { dir, cleanup } = tempDir();
    let now = Date.parse('2026-11-24T10:00:00Z');
    const l = new Ledger(dir, PRICES, 0.01, () => now);
    l.record({ session: 's', model: 'gpt-x', promptTokens: 4000, completionTokens: 2000 }); // 0.008
    expect(() => l.checkBudget()).not.toThrow();
    l.record({ session: 's', model: 'gpt-x', promptTokens: 2000, completionTokens: 0 }); // 0.010
    const err = (() => {
      try {
        l.checkBudget();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBe(14 * 3600_000);
    now = Date.parse('2026-11-25T00:00:01Z');
    expect(() => l.checkBudget()).not.toThrow();
    cleanup();
  });

  it('property: group totals always add up to the overall total', () => {
    const entry = fc.record({ time: fc.integer({ min: 0, max: 4e12 }), session: fc.constantFrom('a', 'b', 'c'), model: fc.constantFrom('m1', 'm2'), promptTokens: fc.nat(1e6), completionTokens: fc.nat(1e6), cost: fc.integer({ min: 0, max: 1e6 }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 60 }), fc.constantFrom('day', 'model', 'session' as const), (entries: SpendEntry[], by) => {
        const { groups, total } = totals(entries, by);
        expect(groups.reduce((n, g) => n + g.calls, 0)).toBe(total.calls);
        expect(groups.reduce((n, g) => n + g.promptTokens, 0)).toBe(total.promptTokens);
        expect(groups.reduce((n, g) => n + g.cost, 0)).toBe(total.cost);
      }),
    );
  });
});
