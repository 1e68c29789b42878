/** A clock a test moves by hand: timers fire in time order as it advances, never on their own. */
import type { Clock } from '../../src/agent/schedules/clock.js';

export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;

  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  at(atMs: number, fn: () => void): () => void {
    const id = ++this.ids;
    this.timers.push({ at: atMs, fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }

  /** Moves to `now + ms`, firing every timer due on the way at its own time; `settle` runs after each. */
  async advance(ms: number, settle: () => Promise<void> = () => new Promise((r) => setImmediate(r))): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }

  /** Jumps without firing anything (the process was not running meanwhile). */
  jump(ms: number): void {
    this.t += ms;
  }

  get pending(): number {
    return this.timers.length;
  }
}
