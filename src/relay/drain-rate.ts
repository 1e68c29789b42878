/**
 * How long a refused link should wait before it comes back: the handshakes ahead of it divided by
 * the rate the relay has been finishing them, so a herd is told to spread over the time the relay
 * needs to drain it instead of all coming back in a second (each retry costs the relay a full TLS
 * handshake, and a herd retrying every second spends the relay's CPU on handshakes it refuses).
 * Pure: the clock is injected.
 */

/** Bounds of the Retry-After hint, in seconds. */
export const MIN_RETRY_AFTER_S = 1;
export const MAX_RETRY_AFTER_S = 30;
/** The rate is what finished in the last two windows of this length. */
const WINDOW_MS = 1000;

export class DrainRate {
  private windowStart: number;
  private current = 0;
  private previous = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.windowStart = now();
  }

  /** One handshake slot freed. */
  note(): void {
    this.roll();
    this.current++;
  }

  /** Handshakes finished per second, recently. */
  perSecond(): number {
    this.roll();
    const elapsed = Math.max(1, this.now() - this.windowStart);
    return ((this.previous + this.current) * 1000) / (WINDOW_MS + elapsed);
  }

  /** Seconds a link with `ahead` handshakes before it should wait. */
  retryAfterS(ahead: number): number {
    const s = Math.ceil(ahead / Math.max(1, this.perSecond()));
    return Math.min(MAX_RETRY_AFTER_S, Math.max(MIN_RETRY_AFTER_S, s));
  }

  private roll(): void {
    const t = this.now();
    if (t - this.windowStart < WINDOW_MS) return;
    const windows = Math.floor((t - this.windowStart) / WINDOW_MS);
    this.previous = windows === 1 ? this.current : 0;
    this.current = 0;
    this.windowStart += windows * WINDOW_MS;
  }
}
