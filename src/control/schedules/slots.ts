/**
 * When a schedule's runs fall (pure). A slot is the instant a trigger names; each machine starts
 * its run at slot + its jitter. Cron slots come from croner in the schedule's time zone, which
 * gives cron users' DST rule: a wall time that a spring-forward skips runs once at the first
 * instant after the gap (02:30 on a day that jumps 02:00 -> 03:00 runs at 03:00), a wall time that
 * a fall-back repeats runs once, at its first occurrence, and expressions whose hour field is a
 * wildcard or a step keep running through both transitions by the real clock.
 */
import { createHash } from 'node:crypto';
import type { Cron } from 'croner';
import { cronOf, type ScheduleTrigger } from './spec.js';

const crons = new Map<string, Cron>();
function cron(expr: string, tz: string): Cron {
  const k = `${tz}\0${expr}`;
  let c = crons.get(k);
  if (!c) {
    if (crons.size > 1000) crons.clear();
    crons.set(k, (c = cronOf(expr, tz)));
  }
  return c;
}

/** The first slot strictly after `afterMs`, or null when there is none (a once that passed). */
export function nextSlot(t: ScheduleTrigger, afterMs: number): number | null {
  switch (t.kind) {
    case 'cron': {
      // croner works in whole seconds: ask from the start of the second after `afterMs`.
      const from = Math.floor(afterMs / 1000) * 1000 + 999;
      return cron(t.expr, t.tz).nextRun(new Date(from))?.getTime() ?? null;
    }
    case 'every':
      if (afterMs < t.anchorMs) return t.anchorMs;
      return t.anchorMs + (Math.floor((afterMs - t.anchorMs) / t.ms) + 1) * t.ms;
    case 'once':
      return t.atMs > afterMs ? t.atMs : null;
  }
}

/** The slots in (fromMs, toMs], counted up to `cap`, and the last of them. */
export function slotsBetween(t: ScheduleTrigger, fromMs: number, toMs: number, cap = 100_000): { count: number; first: number | null; last: number | null } {
  if (t.kind === 'every' && toMs >= fromMs) {
    const first = nextSlot(t, fromMs)!;
    if (first > toMs) return { count: 0, first: null, last: null };
    const count = Math.floor((toMs - first) / t.ms) + 1;
    return { count, first, last: first + (count - 1) * t.ms };
  }
  let count = 0;
  let first: number | null = null;
  let last: number | null = null;
  for (let at = nextSlot(t, fromMs); at !== null && at <= toMs && count < cap; at = nextSlot(t, at)) {
    first ??= at;
    last = at;
    count++;
  }
  return { count, first, last };
}

/**
 * How long after a slot this machine starts its run: uniform over [0, jitterMs), and the same for
 * the same machine, schedule and slot, so a restart keeps it and a fleet spreads out.
 */
export function jitterFor(machineId: string, scheduleId: string, slotMs: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  const h = createHash('sha256').update(`${machineId}\0${scheduleId}\0${slotMs}`).digest();
  return Math.floor((h.readUInt32BE(0) / 0x1_0000_0000) * jitterMs);
}
