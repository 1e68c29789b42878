/**
 * What the relay sends to one link: a bounded, fair scheduler for every forwarded stream headed
 * there (tailscale's derpserver keeps a bounded queue per client in the same way).
 *
 * - A frame goes straight to the socket while the socket holds less than RELAY_SOCKET_HIGH_WATER
 *   and the stream's destination credit allows. Otherwise it waits in its stream's queue, and the
 *   queues take turns, one frame each, as the socket drains: a bulk download cannot push a
 *   keystroke's echo behind megabytes.
 * - The relay grants senders credit itself (see Leg) from a per-link budget: what is in flight to
 *   or held for one link is at most RELAY_LINK_BUDGET plus RELAY_MIN_WINDOW per stream, however
 *   many streams a client opens and whatever it grants.
 * - Client uploads start with the protocol's implicit window, which the relay cannot shrink; if
 *   what it holds for a link passes RELAY_HELD_HARD_BOUND anyway, it stops reading the client
 *   links feeding it until it is half drained.
 */
import type { Leg } from './leg.js';
import { GRANT_BATCH, LINK_INFLIGHT, SMALL_FRAME } from '../protocol/limits.js';

/** Bytes on a link's socket above which the relay's queues wait for drain (about 1 ms of a loopback link). */
export const RELAY_SOCKET_HIGH_WATER = 256 * 1024;
/** Most one stream may have in flight through the relay per direction (a 40 ms x 100 MB/s path). */
export const RELAY_STREAM_WINDOW = 4 * 1024 * 1024;
/** What every stream may keep in flight whatever the budget, so idle neighbours never starve it. */
export const RELAY_MIN_WINDOW = 32 * 1024;
/** Credit out plus bytes held for one link, across its streams, above each stream's minimum. */
export const RELAY_LINK_BUDGET = 16 * 1024 * 1024;
/** Bytes held for one link above which client links feeding it are paused. */
export const RELAY_HELD_HARD_BOUND = 32 * 1024 * 1024;
/** Smallest grant worth a Window frame when the budget is nearly spent. */
const MIN_GRANT = 16 * 1024;

export interface OutboxSink {
  send(bytes: Uint8Array): void;
  bufferedAmount(): number;
}

export class Outbox {
  /** Credit out plus bytes held, over every leg toward this link. */
  committed = 0;
  /** Payload bytes held at the relay for this link. */
  held = 0;
  /** Bytes sent to this link and not yet granted back, over its in-flight-bounded legs. */
  inflight = 0;
  private turns: Leg[] = [];
  /** Legs waiting for the link's in-flight bytes to land. */
  private grounded: Leg[] = [];
  private starved: Leg[] = [];
  private readonly paused = new Set<{ pause(): void; resume(): void }>();

  constructor(private readonly sink: OutboxSink) {}

  /** The window a new leg toward this link starts with, given what its receiver allows. */
  initialWindow(want: number): number {
    return Math.min(want, RELAY_STREAM_WINDOW, Math.max(RELAY_MIN_WINDOW, RELAY_LINK_BUDGET - this.committed));
  }

  /** A new leg toward this link. */
  adopt(leg: Leg): void {
    this.committed += leg.committed;
  }

  /** A data frame from the leg's source (its credit already spent), to send or hold. */
  data(leg: Leg, bytes: Uint8Array, len: number): void {
    if (leg.canPass(len) && this.sink.bufferedAmount() < RELAY_SOCKET_HIGH_WATER && this.mayFly(leg, len)) {
      this.sink.send(bytes);
      leg.passed(len);
      if (isFinite(leg.grantAfter)) this.inflight += len;
      this.committed -= len;
      this.grant(leg);
      this.retryStarved();
      return;
    }
    leg.hold(bytes, len);
    this.held += len;
    if (leg.sendable) this.enqueueAndPump(leg);
    if (this.held > RELAY_HELD_HARD_BOUND && leg.source && !this.paused.has(leg.source)) {
      this.paused.add(leg.source);
      leg.source.pause();
    }
  }

  /** The source's close, behind whatever it sent before. */
  close(leg: Leg, bytes: Uint8Array): void {
    if (!leg.hasQueue) {
      this.sink.send(bytes);
      leg.closeSent = true;
      leg.onCloseSent();
      return;
    }
    leg.hold(bytes, 0);
    if (leg.sendable) this.enqueueAndPump(leg);
  }

  /** The destination granted the leg more credit. */
  credit(leg: Leg, credit: number): void {
    const landed = leg.grantFromDst(credit);
    if (isFinite(leg.grantAfter)) this.inflight -= landed;
    if (leg.sendable) this.enqueue(leg);
    if (this.grounded.length > 0) {
      const list = this.grounded;
      this.grounded = [];
      for (const l of list) {
        l.grounded = false;
        if (!l.dead && l.sendable) this.enqueue(l);
      }
    }
    this.pump();
  }

  /** The leg is over (abort, or a link went away): its bytes and credit leave the budget. */
  release(leg: Leg): void {
    if (leg.dead) return;
    if (isFinite(leg.grantAfter)) this.inflight -= leg.dstInflight;
    this.held -= leg.held;
    this.committed -= leg.clear();
    this.retryStarved();
    this.maybeResume();
  }

  /** The socket drained (or credit arrived): queued legs take turns, one frame each. */
  pump(): void {
    while (this.turns.length > 0 && this.sink.bufferedAmount() < RELAY_SOCKET_HIGH_WATER) {
      const turn = this.turns;
      this.turns = [];
      for (const leg of turn) {
        leg.waiting = false;
        if (leg.dead) continue;
        if (!this.mayFly(leg, leg.headLength)) {
          this.ground(leg);
          continue;
        }
        const before = leg.held;
        const frame = leg.take();
        if (frame) {
          this.sink.send(frame);
          const sent = before - leg.held;
          this.held -= sent;
          this.committed -= sent;
          if (isFinite(leg.grantAfter)) this.inflight += sent;
          if (leg.closeSent && !leg.hasQueue) leg.onCloseSent();
          else this.grant(leg);
        }
        if (leg.sendable) this.enqueue(leg);
      }
    }
    this.retryStarved();
    this.maybeResume();
  }

  /** Tells the closed link's sources nothing more: every paused source reads again. */
  dispose(): void {
    for (const s of this.paused) s.resume();
    this.paused.clear();
    this.turns = [];
    this.starved = [];
    this.grounded = [];
  }

  /**
   * True if a frame of `len` payload bytes on `leg` may go out as far as the in-flight bound goes:
   * small frames always; bulk ones while the link has room, or while the leg has less in flight
   * than its receiver takes before granting back (so it can always earn its next grant).
   */
  private mayFly(leg: Leg, len: number): boolean {
    return !isFinite(leg.grantAfter) || len <= SMALL_FRAME || this.inflight + len <= LINK_INFLIGHT || leg.dstInflight < leg.grantAfter;
  }

  /** Parks the leg until in-flight bytes on the link land (the next grant from the destination). */
  private ground(leg: Leg): void {
    if (leg.grounded) return;
    leg.grounded = true;
    this.grounded.push(leg);
  }

  private enqueue(leg: Leg): void {
    if (leg.waiting) return;
    leg.waiting = true;
    this.turns.push(leg);
  }

  /** Queues the leg for a turn; if the socket has room (no drain will come), takes turns now. */
  private enqueueAndPump(leg: Leg): void {
    this.enqueue(leg);
    if (this.sink.bufferedAmount() < RELAY_SOCKET_HIGH_WATER) this.pump();
  }

  private grant(leg: Leg): void {
    const g = leg.grantable(RELAY_LINK_BUDGET - this.committed, RELAY_MIN_WINDOW, MIN_GRANT);
    if (g > 0) {
      this.committed += g;
      leg.onGrant(g);
    } else if (leg.owed >= Math.min(leg.window / 2, GRANT_BATCH) && !leg.ended && !leg.starved) {
      leg.starved = true;
      this.starved.push(leg);
    }
  }

  private retryStarved(): void {
    if (this.starved.length === 0 || RELAY_LINK_BUDGET - this.committed < MIN_GRANT) return;
    const list = this.starved;
    this.starved = [];
    for (const leg of list) {
      leg.starved = false;
      if (!leg.dead) this.grant(leg);
    }
  }

  private maybeResume(): void {
    if (this.paused.size === 0 || this.held > RELAY_HELD_HARD_BOUND / 2) return;
    for (const s of this.paused) s.resume();
    this.paused.clear();
  }
}
