/**
 * One direction of a forwarded stream (source end -> destination end), as the relay holds it.
 *
 * The relay does not pass a receiver's grants on to the sender. It is the sender's receiver on
 * its own hop: it grants the sender credit itself (`window`), as bytes leave its own queue for the
 * destination's socket, and it spends the destination's grants (`dstCredit`) as it forwards. So
 * what the relay holds for a stream is bounded by the credit it gave, never by what a far peer
 * claims to have read (a client that grants credit but never reads its socket cannot make the
 * relay queue more). The accounting below is pure; the Outbox of the destination link sends.
 *
 * Invariant: `srcCredit + held + owed === window`.
 */
import { ProtocolError } from '../errors.js';
import { encodeData } from '../protocol/codec.js';
import { GRANT_BATCH, MAX_WINDOW } from '../protocol/limits.js';

/** A frame waiting at the relay: its bytes (stream id already patched) and its payload length (0 for a close). */
interface Held {
  bytes: Uint8Array;
  len: number;
}

export class Leg {
  /** Credit the relay has granted the source and the source has not used yet. */
  srcCredit: number;
  /** The relay's window for the source: what it may have in flight or held for this leg. */
  window: number;
  /** Bytes forwarded to the destination and not yet granted back to the source. */
  owed = 0;
  /** Payload bytes held at the relay for the destination. */
  held = 0;
  /** Credit the destination granted and the relay has not spent. */
  dstCredit: number;
  /** Bytes sent to the destination that it has not granted back yet (in its socket or its queue). */
  dstInflight = 0;
  /**
   * How much the destination receives before it grants back (flow.v2: GRANT_BATCH or half its
   * window; older peers: half the window). Infinity = not capped by the link's in-flight bound.
   */
  grantAfter = Infinity;
  /** The window this leg grows back to when the link's budget allows (never above the destination's). */
  target: number;
  /** The source sent its close (it may still be queued behind data). */
  ended = false;
  /** The close went out to the destination. */
  closeSent = false;
  /** Removed from its route; the Outbox skips it. */
  dead = false;
  /** Set while the leg waits in its Outbox's round-robin. */
  waiting = false;
  /** Set while the leg waits in its Outbox for budget to grant. */
  starved = false;
  /** Set while the leg waits in its Outbox for the link's in-flight bytes to land. */
  grounded = false;
  /** Grants credit to the source (sends it a Window frame). */
  onGrant: (credit: number) => void = () => {};
  /** The close went out: the route may be over. */
  onCloseSent: () => void = () => {};
  /** The source's link, when the relay may pause its reads (clients; agents are bounded by credit alone). */
  source: { pause(): void; resume(): void } | null = null;
  private readonly queue: Held[] = [];

  /**
   * @param dstId the stream id on the destination link (for frames the relay must re-encode)
   * @param window the credit the source starts with (0 for a leg whose source ended in its Open)
   * @param dstCredit the credit the destination starts with
   * @param cap most the window may grow to
   */
  constructor(readonly dstId: number, window: number, dstCredit: number, private readonly cap: number, ended: boolean) {
    this.window = window;
    this.srcCredit = window;
    this.dstCredit = dstCredit;
    this.target = Math.max(window, Math.min(dstCredit, cap));
    this.ended = ended;
    this.closeSent = ended;
  }

  /** What this leg counts against the destination link's budget: credit out plus bytes held. */
  get committed(): number {
    return this.srcCredit + this.held;
  }

  get hasQueue(): boolean {
    return this.queue.length > 0;
  }

  /** True if the head of the queue may go out now (a close, or data with destination credit). */
  get sendable(): boolean {
    const head = this.queue[0];
    return head !== undefined && (head.len === 0 || this.dstCredit > 0);
  }

  /** The source sent `len` payload bytes. Throws ProtocolError if it overran the relay's grant. */
  /** Payload bytes that entered this direction (for the audit record). */
  bytes = 0;

  spend(len: number, streamId: number): void {
    this.bytes += len;
    if (this.ended) throw new ProtocolError(`data after close on stream ${streamId}`);
    if (len > this.srcCredit) throw new ProtocolError(`peer overran its flow-control window on stream ${streamId}`);
    this.srcCredit -= len;
  }

  /** The source sent its close. */
  end(streamId: number): void {
    if (this.ended) throw new ProtocolError(`duplicate close on stream ${streamId}`);
    this.ended = true;
  }

  /** The destination granted more. */
  /** The destination granted more; returns how much of what was in flight it took back. */
  grantFromDst(credit: number): number {
    if (!Number.isInteger(credit) || credit <= 0 || this.dstCredit + credit > MAX_WINDOW) throw new ProtocolError(`invalid window grant of ${credit} bytes`);
    this.dstCredit += credit;
    const landed = Math.min(credit, this.dstInflight);
    this.dstInflight -= landed;
    if (this.dstCredit > this.target) this.target = Math.min(this.dstCredit, this.cap);
    return landed;
  }

  /** True if a frame of `len` payload bytes may go out now without queueing (nothing ahead of it). */
  canPass(len: number): boolean {
    return this.queue.length === 0 && len <= this.dstCredit;
  }

  /** Records a frame that went straight out. */
  passed(len: number): void {
    this.dstCredit -= len;
    this.owed += len;
    this.dstInflight += len;
  }

  /** Payload length of the frame at the head of the queue (0 for a close), or -1 if none. */
  get headLength(): number {
    const head = this.queue[0];
    return head ? Math.min(head.len, Math.max(this.dstCredit, 0)) : -1;
  }

  hold(bytes: Uint8Array, len: number): void {
    this.queue.push({ bytes, len });
    this.held += len;
  }

  /**
   * The next frame that may go out within the destination's credit, or null. A data frame larger
   * than the credit left is split (a copy, off the hot path), so a small window never stalls a big frame.
   */
  take(): Uint8Array | null {
    const head = this.queue[0];
    if (!head) return null;
    if (head.len === 0) {
      this.queue.shift();
      if (this.queue.length === 0 && this.ended) this.closeSent = true;
      return head.bytes;
    }
    if (this.dstCredit <= 0) return null;
    if (head.len <= this.dstCredit) {
      this.queue.shift();
      this.held -= head.len;
      this.passed(head.len);
      return head.bytes;
    }
    const n = this.dstCredit;
    const payload = head.bytes.subarray(head.bytes.length - head.len);
    const first = encodeData(this.dstId, payload.subarray(0, n));
    head.bytes = encodeData(this.dstId, payload.subarray(n));
    head.len -= n;
    this.held -= n;
    this.passed(n);
    return first;
  }

  /** Every held frame dropped (the stream aborted or a link went away). Returns the bytes released. */
  clear(): number {
    const released = this.committed;
    this.dstInflight = 0;
    this.queue.length = 0;
    this.held = 0;
    this.srcCredit = 0;
    this.dead = true;
    return released;
  }

  /**
   * How much to grant the source now, given `room` bytes left in the link's budget; 0 = not yet.
   * Grants come in batches of half a window or GRANT_BATCH (as flow.v2 receivers do), may grow the window back toward
   * `target`, and a leg may always keep `floor` bytes in flight so an idle neighbour's credit can
   * never starve it.
   */
  grantable(room: number, floor: number, minGrant: number): number {
    if (this.owed < Math.min(this.window / 2, GRANT_BATCH) || this.dead || this.ended) return 0;
    const allowed = Math.max(room, floor - this.committed);
    let grant = Math.min(this.owed, allowed);
    if (grant < Math.min(this.owed, minGrant)) return 0;
    this.owed -= grant;
    if (this.owed === 0 && this.window < this.target) {
      const extra = Math.min(this.target - this.window, allowed - grant);
      if (extra > 0) {
        this.window += extra;
        grant += extra;
      }
    }
    this.srcCredit += grant;
    return grant;
  }
}
