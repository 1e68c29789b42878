/**
 * The spend ledger: one JSON line per model call, appended and fsynced before the call is
 * acknowledged, in a 0600 file in the state dir. A crash mid-append leaves at most one partial
 * last line, which reading skips (and the next append starts on a fresh line), so no
 * acknowledged entry is ever lost. Totals are computed by a pure function over the entries.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RateLimitError, ValidationError } from '../../errors.js';

export interface SpendEntry {
  /** ms since epoch */
  time: number;
  session: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  /** The model had no price in the table: tokens counted, cost 0. */
  unpriced?: boolean;
  /** Token counts were estimated (the server sent no usage). */
  estimated?: boolean;
}

/** USD per million tokens, per model. */
export type PriceTable = Record<string, { prompt: number; completion: number }>;

export type GroupBy = 'day' | 'model' | 'session';

export interface SpendTotals {
  key: string;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  unpriced: boolean;
  estimated: boolean;
}

export function priceCall(prices: PriceTable, model: string, promptTokens: number, completionTokens: number): { cost: number; unpriced: boolean } {
  const p = prices[model];
  if (!p) return { cost: 0, unpriced: true };
  return { cost: (promptTokens * p.prompt + completionTokens * p.completion) / 1e6, unpriced: false };
}

/** UTC day of a time, YYYY-MM-DD. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Totals per group and overall, over entries in [since, until). Pure. */
export function totals(entries: readonly SpendEntry[], groupBy: GroupBy, since = 0, until = Infinity): { groups: SpendTotals[]; total: SpendTotals } {
  const empty = (key: string): SpendTotals => ({ key, calls: 0, promptTokens: 0, completionTokens: 0, cost: 0, unpriced: false, estimated: false });
  const add = (t: SpendTotals, e: SpendEntry) => {
    t.calls++;
    t.promptTokens += e.promptTokens;
    t.completionTokens += e.completionTokens;
    t.cost += e.cost;
    t.unpriced ||= !!e.unpriced;
    t.estimated ||= !!e.estimated;
  };
  const groups = new Map<string, SpendTotals>();
  const total = empty('total');
  for (const e of entries) {
    if (e.time < since || e.time >= until) continue;
    const key = groupBy === 'day' ? dayOf(e.time) : groupBy === 'model' ? e.model : e.session;
    const g = groups.get(key) ?? empty(key);
    groups.set(key, g);
    add(g, e);
    add(total, e);
  }
  return { groups: [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : 1)), total };
}

export class Ledger {
  readonly path: string;
  private entries: SpendEntry[] = [];
  /** False when the file ends in a partial line (a crash mid-append). */
  private sealed = true;

  constructor(stateDir: string, private readonly prices: PriceTable = {}, private readonly dailyBudget = 0, private readonly now: () => number = Date.now) {
    this.path = join(stateDir, 'spend.jsonl');
    if (existsSync(this.path)) {
      const text = readFileSync(this.path, 'utf8');
      this.entries = parse(text);
      this.sealed = text.length === 0 || text.endsWith('\n');
    }
  }

  /** Records a call durably; returns the entry as stored. */
  record(e: Omit<SpendEntry, 'cost' | 'unpriced' | 'time'> & { time?: number }): SpendEntry {
    if (!(e.promptTokens >= 0 && e.completionTokens >= 0)) throw new ValidationError('token counts must not be negative');
    const priced = priceCall(this.prices, e.model, e.promptTokens, e.completionTokens);
    const entry: SpendEntry = { time: e.time ?? this.now(), session: e.session, model: e.model, promptTokens: e.promptTokens, completionTokens: e.completionTokens, cost: priced.cost, ...(priced.unpriced ? { unpriced: true } : {}), ...(e.estimated ? { estimated: true } : {}) };
    const fd = openSync(this.path, 'a', 0o600);
    try {
      // A leading newline seals off a partial line a crash may have left.
      writeSync(fd, (this.sealed ? '' : '\n') + JSON.stringify(entry) + '\n');
      fsyncSync(fd);
      this.sealed = true;
    } finally {
      closeSync(fd);
    }
    this.entries.push(entry);
    return entry;
  }

  query(groupBy: GroupBy, since = 0, until = Infinity): ReturnType<typeof totals> {
    return totals(this.entries, groupBy, since, until);
  }

  spentToday(): number {
    const today = dayOf(this.now());
    return this.entries.filter((e) => dayOf(e.time) === today).reduce((n, e) => n + e.cost, 0);
  }

  get budget(): number {
    return this.dailyBudget;
  }

  /** Throws RateLimitError once today's spend has reached the daily budget (until the next UTC day). */
  checkBudget(): void {
    if (this.dailyBudget > 0 && this.spentToday() >= this.dailyBudget) {
      const tomorrow = new Date(dayOf(this.now()) + 'T00:00:00Z').getTime() + 86_400_000;
      throw new RateLimitError(`daily AI budget of ${this.dailyBudget} reached (spent ${this.spentToday().toFixed(4)}); AI requests resume at ${new Date(tomorrow).toISOString()}`, { retryAfterMs: tomorrow - this.now(), detail: 'budget_exhausted' });
    }
  }
}

function parse(text: string): SpendEntry[] {
  const out: SpendEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as SpendEntry;
      if (typeof e.time === 'number' && typeof e.cost === 'number') out.push(e);
    } catch {
      // A partial line from a crash mid-append: it was never acknowledged.
    }
  }
  return out;
}

