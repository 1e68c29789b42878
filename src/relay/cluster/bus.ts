/**
 * The cluster's signal bus: change notifications from the shared store. Behind a small interface
 * so the node logic does not know PostgreSQL; PgBus is LISTEN/NOTIFY on one dedicated
 * connection. When that connection drops, the bus says so at once (`onLost`: the node must stop
 * trusting its caches), reconnects with doubling delays, and after LISTEN is back calls
 * `onResync` first, so the node reloads from the tables before trusting its caches again.
 */
import pg from 'pg';
import { doublingDelay } from '../../link/backoff.js';
import type { Logger } from '../../log.js';

export interface BusHandlers {
  /** One notification: its channel and payload (ids only). */
  onNote(channel: string, payload: string): void;
  /** The listener is gone: notifications may be missed from now on. */
  onLost(): void;
  /** The listener is back: reload everything, then trust the caches again. */
  onResync(): Promise<void>;
}

export interface ChangeBus {
  start(h: BusHandlers): Promise<void>;
  readonly listening: boolean;
  stop(): Promise<void>;
}

export class PgBus implements ChangeBus {
  listening = false;
  private client: pg.Client | null = null;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private h!: BusHandlers;

  constructor(private readonly url: string, private readonly channels: readonly string[], private readonly log: Logger) {}

  async start(h: BusHandlers): Promise<void> {
    this.h = h;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000, keepAlive: true });
    this.client = client;
    client.on('notification', (n) => {
      if (this.client === client && n.payload !== undefined) this.h.onNote(n.channel, n.payload);
    });
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      client.end().catch(() => undefined);
      const was = this.listening;
      this.listening = false;
      if (was) {
        this.log.warn({ reason: err?.message ?? 'connection ended' }, 'cluster signal listener lost; resyncing once it is back');
        this.h.onLost();
      }
      this.retry();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      for (const ch of this.channels) await client.query(`LISTEN ${ch}`);
    } catch (err) {
      lost(err as Error);
      throw err;
    }
    if (this.stopped) return void client.end().catch(() => undefined);
    // Listening from here on: a change made during the resync is either in the tables it reads or
    // in a notification that follows it.
    try {
      await this.h.onResync();
    } catch (err) {
      lost(err as Error);
      throw err;
    }
    this.attempt = 0;
    this.listening = true;
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt++;
      this.connect().catch((err: Error) => this.log.debug({ reason: err.message }, 'cluster signal listener: reconnect failed'));
    }, doublingDelay(this.attempt, 250, 5000));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = null;
    this.listening = false;
    await c?.end().catch(() => undefined);
  }
}
