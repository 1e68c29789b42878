/**
 * Failed console sign-ins, counted per remote address: past MAX_FAILURES within WINDOW_MS, that
 * address is refused (429) until its oldest failure leaves the window. Keys are 256-bit secrets,
 * so this is not what stops guessing; it stops a client hammering the key check (a hash and a
 * store lookup each). Pure, on the caller's clock; the table is bounded (the oldest address goes).
 */
export const MAX_FAILURES = 10;
export const WINDOW_MS = 5 * 60_000;
export const MAX_ADDRESSES = 10_000;

export class SignInLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  /** Milliseconds until `addr` may try again, or 0 if it may now. */
  retryAfter(addr: string): number {
    const times = this.recent(addr);
    return times.length >= MAX_FAILURES ? times[0]! + WINDOW_MS - this.now() : 0;
  }

  failed(addr: string): void {
    const times = this.recent(addr);
    times.push(this.now());
    this.failures.delete(addr);
    this.failures.set(addr, times); // most recent last, for eviction
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
  }

  succeeded(addr: string): void {
    this.failures.delete(addr);
  }

  get size(): number {
    return this.failures.size;
  }

  private recent(addr: string): number[] {
    const cutoff = this.now() - WINDOW_MS;
    const times = (this.failures.get(addr) ?? []).filter((t) => t > cutoff);
    if (times.length === 0) this.failures.delete(addr);
    return times;
  }
}
