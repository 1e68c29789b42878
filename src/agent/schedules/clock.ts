/**
 * The scheduler's clock, behind one interface so tests drive it (a fake clock advances through
 * hours of slots at once) and the real one can be trusted: a wake is never more than MAX_WAIT_MS
 * away, so a wall-clock step (NTP, a resumed laptop) is noticed within it.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once at or after `atMs`; returns a cancel function. */
  at(atMs: number, fn: () => void): () => void;
}

export const MAX_WAIT_MS = 60_000;

export const realClock: Clock = {
  now: () => Date.now(),
  at(atMs, fn) {
    let t: NodeJS.Timeout;
    const arm = () => {
      const wait = atMs - Date.now();
      if (wait <= 0) return fn();
      t = setTimeout(arm, Math.min(wait, MAX_WAIT_MS));
      t.unref();
    };
    t = setTimeout(arm, Math.max(0, Math.min(atMs - Date.now(), MAX_WAIT_MS)));
    t.unref();
    return () => clearTimeout(t);
  },
};
