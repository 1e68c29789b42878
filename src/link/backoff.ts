/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random delay in
 * [0, min(cap, base * 2^attempt))), so that a fleet reconnecting after a relay restart spreads
 * out instead of arriving at once. Pure; the random source is injected for tests.
 */

/** First delay bound: the first retry comes within this many ms. */
export const BACKOFF_BASE_MS = 250;
/** No delay is ever longer than this. */
export const BACKOFF_CAP_MS = 30_000;

export function backoffDelay(attempt: number, random: () => number = Math.random, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS): number {
  const bound = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * bound);
}
