/**
 * Reconnect delays: full jitter (a uniformly random delay below a bound) so that a fleet
 * reconnecting after a relay restart spreads out instead of arriving at once, with a bound that
 * stays at FAST_BOUND_MS for the first FAST_RETRIES attempts (a relay restart is over in a second
 * or two, and agents must be back within two seconds of it) and then doubles up to the cap.
 * Pure; the random source is injected for tests.
 */

/** Bound of the first FAST_RETRIES delays: every early retry comes within a second. */
export const FAST_BOUND_MS = 1000;
/** Attempts that keep the fast bound before it starts doubling. */
export const FAST_RETRIES = 5;
/** No delay is ever longer than this. */
export const BACKOFF_CAP_MS = 30_000;

export function backoffBound(attempt: number): number {
  return Math.min(BACKOFF_CAP_MS, FAST_BOUND_MS * 2 ** Math.min(30, Math.max(0, attempt - FAST_RETRIES)));
}

export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * backoffBound(attempt));
}

/**
 * The client's reconnect and retry delays: `base` doubling per attempt up to `cap`, each drawn
 * uniformly from the upper half of that bound (spread out, never near zero). Pure.
 */
export function doublingDelay(attempt: number, base: number, cap: number, random: () => number = Math.random): number {
  const bound = Math.min(cap, base * 2 ** Math.min(30, Math.max(0, attempt)));
  return Math.floor(bound / 2 + (random() * bound) / 2);
}
