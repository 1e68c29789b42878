/**
 * The client's link, made on first use. After an unexpected drop it is made again in the
 * background (autoReconnect, on by default) with doubling, jittered delays, up to
 * reconnectMaxAttempts; a call made meanwhile dials at once instead of waiting out the delay.
 * With autoReconnect off, calls after a drop fail with ConnectionError until `connect()`.
 * Events: 'connect', 'disconnect' (the error), 'error' (a failed reconnect; only if listened to).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { Link } from '../link/link.js';
import { connectLink, type ConnectOptions } from '../link/connect.js';
import { doublingDelay } from '../link/backoff.js';
import { ConnectionError, type CmdopError } from '../errors.js';

export interface ReconnectOptions {
  /** Redial in the background after a drop (default true). */
  autoReconnect?: boolean;
  /** First delay before a redial, ms (default 1000); it doubles per failed attempt. */
  reconnectDelay?: number;
  /** Longest delay between redials, ms (default 30000). */
  reconnectMaxDelay?: number;
  /** Redials before giving up (default 0 = never give up); a later call still dials. */
  reconnectMaxAttempts?: number;
}

export interface ConnectionInfo {
  /** Where the client connects: the relay URL or the local agent's socket. */
  server: string;
  connected: boolean;
  /** Round trip of the last heartbeat, ms (null until one came back). */
  latencyMs: number | null;
  connectedAt: Date | null;
  /** Links made after the first. */
  reconnects: number;
}

export class Connection extends EventEmitter {
  private link: Link | null = null;
  private pending: Promise<Link> | null = null;
  private closed = false;
  /** autoReconnect off and the link dropped: calls fail until connect(). */
  private dropped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  private links = 0;
  private connectedAt: Date | null = null;
  private readonly r: Required<ReconnectOptions>;

  /** Called when a dial fails or a link drops: a client of several relay nodes moves to another. */
  onFailure: () => void = () => undefined;

  constructor(private readonly connectOptions: () => ConnectOptions, readonly log: Logger, readonly server = '', reconnect: ReconnectOptions = {}) {
    super();
    this.r = { autoReconnect: reconnect.autoReconnect ?? true, reconnectDelay: reconnect.reconnectDelay ?? 1000, reconnectMaxDelay: reconnect.reconnectMaxDelay ?? 30_000, reconnectMaxAttempts: reconnect.reconnectMaxAttempts ?? 0 };
  }

  get isConnected(): boolean {
    return !!this.link?.isOpen;
  }

  get info(): ConnectionInfo {
    const live = this.isConnected;
    return { server: this.server, connected: live, latencyMs: live ? this.link!.rttMs : null, connectedAt: live ? this.connectedAt : null, reconnects: Math.max(0, this.links - 1) };
  }

  /** The live link, dialing if there is none. */
  get(): Promise<Link> {
    if (this.closed) return Promise.reject(new ConnectionError('client is closed', { retryable: false }));
    if (this.link?.isOpen) return Promise.resolve(this.link);
    if (this.dropped) return Promise.reject(new ConnectionError('the connection was lost and autoReconnect is off: call client.connect()', { detail: 'link_lost' }));
    return this.dial();
  }

  /** Dials now (a manual reconnect too). */
  connect(): Promise<Link> {
    this.dropped = false;
    return this.get();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.link?.close();
    this.link = null;
  }

  private dial(): Promise<Link> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer); // a call is waiting: dial now, not after the delay
      this.retryTimer = null;
    }
    this.pending ??= connectLink(this.connectOptions())
      .then(({ link }) => {
        this.pending = null;
        if (this.closed) {
          link.close();
          throw new ConnectionError('client is closed', { retryable: false });
        }
        this.link = link;
        this.links++;
        this.attempts = 0;
        this.connectedAt = new Date();
        link.onClose((err: CmdopError) => {
          if (this.link !== link) return;
          this.link = null;
          if (!this.closed) this.onFailure();
          this.emit('disconnect', err);
          if (this.closed) return;
          if (this.r.autoReconnect) this.schedule();
          else this.dropped = true;
        });
        this.emit('connect');
        return link;
      })
      .catch((err: unknown) => {
        this.pending = null;
        this.onFailure();
        throw err;
      });
    return this.pending;
  }

  /** The next background redial, after a doubling delay. */
  private schedule(): void {
    if (this.closed || this.retryTimer || this.pending) return;
    const max = this.r.reconnectMaxAttempts;
    if (max > 0 && this.attempts >= max) {
      this.fail(new ConnectionError(`gave up reconnecting after ${this.attempts} attempts; the next call dials again`, { detail: 'link_lost' }));
      return;
    }
    const delay = doublingDelay(this.attempts, this.r.reconnectDelay, this.r.reconnectMaxDelay);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.attempts++;
      this.dial().catch((err: CmdopError) => {
        this.fail(err);
        this.schedule();
      });
    }, delay);
    this.retryTimer.unref();
  }

  private fail(err: CmdopError): void {
    this.log.debug({ err: err.message }, 'reconnect failed');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
