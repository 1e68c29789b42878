/**
 * Credit-based flow control, pure. A receiver grants bytes; a sender never has more in flight
 * than granted. The receiver grants more only as its consumer drains, in batches of half a window
 * or GRANT_BATCH, whichever is smaller, so a steady stream costs one Window frame per batch.
 */
import { ProtocolError } from '../errors.js';
import { GRANT_BATCH, MAX_WINDOW } from './limits.js';

/** The sending side: how many bytes the peer still accepts. */
export class SendCredit {
  private credit: number;

  constructor(initial: number) {
    this.credit = initial;
  }

  get available(): number {
    return this.credit;
  }

  /** Spends credit; the caller has checked `available`. */
  spend(n: number): void {
    this.credit -= n;
  }

  /** The peer granted more. A grant that would push the window past MAX_WINDOW is a protocol error. */
  grant(n: number): void {
    if (!Number.isInteger(n) || n <= 0 || this.credit + n > MAX_WINDOW) {
      throw new ProtocolError(`invalid window grant of ${n} bytes`);
    }
    this.credit += n;
  }
}

/** The receiving side: checks the peer stays inside the window, and decides when to grant. */
export class ReceiveWindow {
  /** Bytes the peer may still send before we grant more. */
  private remaining: number;
  /** Bytes consumed but not yet granted back. */
  private unacked = 0;
  private size_: number;

  constructor(size: number) {
    this.size_ = size;
    this.remaining = size;
  }

  get size(): number {
    return this.size_;
  }

  /** Enlarges the window (never shrinks it); returns the extra credit to grant the peer now. */
  grow(size: number): number {
    const extra = Math.min(size, MAX_WINDOW) - this.size_;
    if (extra <= 0) return 0;
    this.size_ += extra;
    this.remaining += extra;
    return extra;
  }

  /** Bytes received but not yet consumed (what the consumer's buffer holds). */
  get buffered(): number {
    return this.size_ - this.remaining - this.unacked;
  }

  /** Records received bytes; throws ProtocolError if the peer overran its window. */
  receive(n: number): void {
    if (n > this.remaining) throw new ProtocolError(`peer sent ${n} bytes with only ${this.remaining} bytes of window left`);
    this.remaining -= n;
  }

  /** Records consumed bytes; returns the credit to grant now (0 = not yet). */
  consume(n: number): number {
    this.unacked += n;
    if (this.unacked < Math.min(this.size_ / 2, GRANT_BATCH)) return 0;
    const grant = this.unacked;
    this.unacked = 0;
    this.remaining += grant;
    return grant;
  }
}
