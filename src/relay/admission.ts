/**
 * Handshake slots on the public listener: at most `max` links in the handshake at once and at most
 * MAX_HANDSHAKES_PER_ADDRESS from one remote address. When the cap is reached, the oldest link that
 * has sent nothing for SHED_IDLE_AFTER_MS (3 s) since its upgrade is shed to make room (a peer that said
 * hello keeps its slot, and so does one that upgraded a moment ago: in a herd, an agent's hello is
 * often still in flight, and shedding it cost a reconnect and a TLS handshake);
 * otherwise the newcomer waits, its TLS session kept, in a bounded queue for a slot (a reconnect
 * herd costs one TLS handshake per agent, not one per 503), and only past the queue's bound or its
 * wait gets 503 with a Retry-After of its place in line over the recent handshake rate
 * (drain-rate.ts), and comes back with jitter.
 */
import { UnavailableError } from '../errors.js';
import { CLOSE_POLICY } from '../link/link.js';
import type { Conn } from './conn.js';
import { DrainRate, MIN_RETRY_AFTER_S } from './drain-rate.js';

/** The upgrade's socket, as far as a wait needs it. */
export interface WaitingSocket {
  once(ev: 'close', fn: () => void): unknown;
  removeListener(ev: 'close', fn: () => void): unknown;
}

/** An upgrade waiting for a handshake slot. */
interface Waiting {
  address: string;
  go: (done: () => void) => void;
  /** Takes its close listener off the socket. */
  leave: () => void;
  timer: NodeJS.Timeout;
}

/** Links allowed in the handshake at once; more get HTTP 503 and retry with jitter. */
export const DEFAULT_MAX_HANDSHAKES = 256;
/**
 * Handshakes one remote address may have in flight at once: one host cannot hold the relay's
 * slots (a fleet behind one NAT gets 503s past this and comes back with jitter).
 */
export const MAX_HANDSHAKES_PER_ADDRESS = 64;

/**
 * Upgrades that may wait for a handshake slot, and for how long: well inside an agent's 15 s
 * connect timeout, and long, because a waiting upgrade costs the relay nothing more (its TLS
 * handshake is done) while a refused one costs a new TLS handshake when it comes back.
 */
export const MAX_QUEUED = 4096;
/**
 * An upgrade silent this long may be shed for a waiting one: a hello can take a few round trips
 * from a slow link or a loaded host. Measured at 4,000 simulated agents over three nodes (their
 * two processes saturated): shedding at once closed 1,833 honest links in one of the two, whose
 * hello was on its way; after 1 s, 2,904 in both; after 3 s, none (706 503s remained).
 */
export const SHED_IDLE_AFTER_MS = 3000;
export const QUEUE_WAIT_MS = 8000;

export function busyResponse(retryAfterS: number): string {
  return `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfterS}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}

export class Admission {
  private count = 0;
  private readonly byAddress = new Map<string, number>();
  /** Links still in the handshake, oldest first, with when they were tracked. */
  private readonly pending = new Map<Conn, number>();
  private shedTimer: NodeJS.Timeout | undefined;
  /** Upgrades waiting for a slot, oldest first. */
  private readonly queue = new Set<Waiting>();

  private readonly rate: DrainRate;

  constructor(private readonly max: number, private readonly waitMs = QUEUE_WAIT_MS, private readonly now: () => number = Date.now) {
    this.rate = new DrainRate(now);
  }

  /** The 503 for a link refused now: come back once the handshakes ahead of it have drained. */
  busy(): string {
    return busyResponse(this.rate.retryAfterS(this.count + this.queue.size));
  }

  /** Takes a slot for a new upgrade from `address`; returns its release, or null (answer 503). */
  admit(address: string): (() => void) | null {
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= MAX_HANDSHAKES_PER_ADDRESS) return null;
    if (this.count >= this.max && !this.shedIdle()) return null;
    this.count++;
    this.byAddress.set(address, fromAddress + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.count--;
      this.rate.note();
      const left = (this.byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
      this.next();
    };
  }

  /**
   * No slot now: waits for one (at most `waitMs`), then calls `go` with its release, or
   * `busy` (answer 503). False if the queue is full (answer 503 now).
   */
  wait(address: string, socket: WaitingSocket, go: (done: () => void) => void, busy: () => void): boolean {
    if (this.queue.size >= MAX_QUEUED) return false;
    // The close listener goes when the entry leaves the queue: left on the socket for the link's
    // life, it kept the upgrade's request, head and closures (~1.5 KB per link) until the close.
    const onClose = () => {
      clearTimeout(entry.timer);
      this.queue.delete(entry);
    };
    const entry: Waiting = {
      address,
      go,
      leave: () => socket.removeListener('close', onClose),
      timer: setTimeout(() => {
        this.queue.delete(entry);
        entry.leave();
        busy();
      }, this.waitMs),
    };
    this.queue.add(entry);
    socket.once('close', onClose);
    this.armShed();
    return true;
  }

  /** A slot freed: the oldest waiting upgrade whose address has room takes it. */
  private next(): void {
    for (const e of this.queue) {
      if (this.count >= this.max) return;
      if ((this.byAddress.get(e.address) ?? 0) >= MAX_HANDSHAKES_PER_ADDRESS) continue;
      this.queue.delete(e);
      clearTimeout(e.timer);
      e.leave();
      e.go(this.admit(e.address)!);
    }
  }

  /** A link in its handshake (so it may be shed while it has sent nothing). */
  track(conn: Conn): void {
    if (!conn.handshaking) return;
    this.pending.set(conn, this.now());
    this.armShed();
  }

  /** The link finished its handshake, or closed. */
  settled(conn: Conn): void {
    this.pending.delete(conn);
  }

  /** Sheds the oldest link silent for SHED_IDLE_AFTER_MS; false if there is none. */
  private shedIdle(): boolean {
    const c = this.oldestSilent();
    if (!c || this.now() - this.pending.get(c)! < SHED_IDLE_AFTER_MS) return false;
    this.pending.delete(c); // closing: never shed twice
    c.log.info('shedding an idle handshake to make room');
    c.link.close(new UnavailableError('the relay is busy and this link sent nothing', { retryAfterMs: MIN_RETRY_AFTER_S * 1000 }), CLOSE_POLICY);
    return true;
  }

  private oldestSilent(): Conn | undefined {
    for (const c of this.pending.keys()) if (!c.spoke) return c;
    return undefined;
  }

  /** While upgrades wait for a slot, sheds each silent link as it comes of age. */
  private armShed(): void {
    if (this.shedTimer || this.queue.size === 0) return;
    const c = this.oldestSilent();
    if (!c) return;
    this.shedTimer = setTimeout(() => {
      this.shedTimer = undefined;
      // With a slot free (the queue waits on its addresses' bounds), nothing to shed until the next event.
      if (this.count < this.max || this.queue.size === 0) return;
      this.shedIdle();
      this.armShed();
    }, Math.max(0, this.pending.get(c)! + SHED_IDLE_AFTER_MS - this.now()));
    this.shedTimer.unref();
  }
}
