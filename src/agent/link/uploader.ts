/**
 * Uploads records the relay must store exactly once (the audit chain, schedule runs): ask where
 * the relay's copy ends, send what follows in order, and drop records locally only once the
 * relay says they are stored. A lost answer just means the next upload starts from the relay's
 * head again, which skips what it already has.
 */
import type { Logger } from '../../log.js';

const RETRY_MS = 5000;

export interface RelayCalls {
  speaks(capability: string): boolean;
  unary(service: string, method: string, request: Uint8Array): Promise<Uint8Array>;
  readonly online: boolean;
}

/** What one kind of record needs: where the relay is, what is pending after it, and sending a batch. */
export interface UploadSource {
  /** The relay capability that must be announced for this upload to run. */
  capability: string;
  what: string;
  head(relay: RelayCalls): Promise<number>;
  /** Records after `head`, in order (empty: nothing to send). */
  pending(head: number): readonly unknown[];
  /** Sends a batch; returns the relay's new head. */
  send(relay: RelayCalls, batch: readonly unknown[]): Promise<number>;
  /** The relay stored everything up to `head`. */
  ack(head: number): void;
  onRecord(fn: () => void): void;
}

export class Uploader {
  private running: Promise<void> | null = null;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly src: UploadSource, private readonly relay: RelayCalls, private readonly log: Logger) {
    src.onRecord(() => void this.kick());
  }

  /** Starts an upload now (or right after the one running). */
  kick(): Promise<void> {
    if (this.stopped || !this.relay.online || !this.relay.speaks(this.src.capability)) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        void this.kick();
      }
    });
    return this.running;
  }

  private async run(): Promise<void> {
    try {
      let head = await this.src.head(this.relay);
      this.src.ack(head);
      for (;;) {
        const batch = this.src.pending(head);
        if (batch.length === 0) return;
        head = await this.src.send(this.relay, batch);
        this.src.ack(head);
      }
    } catch (err) {
      if (this.stopped) return;
      this.log.warn({ err: (err as Error).message }, `${this.src.what} upload failed; retrying`);
      clearTimeout(this.retry);
      this.retry = setTimeout(() => void this.kick(), RETRY_MS);
      this.retry.unref();
    }
  }

  /** Stops uploading; a call in flight ends with the link (nothing is acknowledged without an answer). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }
}
