/**
 * Uploads the agent's audit records to the relay (audit.v1): ask where the relay's copy of this
 * machine's chain ends, send what follows in order, and drop records locally only once the relay
 * says they are stored. A lost answer just means the next upload starts from the relay's head
 * again, which skips what it already has: every record is stored exactly once.
 */
import { cmdop } from '../../protocol/gen/cmdop.js';
import type { Logger } from '../../log.js';
import type { AuditJournal } from './journal.js';

const RETRY_MS = 5000;

export interface RelayCalls {
  speaks(capability: string): boolean;
  unary(service: string, method: string, request: Uint8Array): Promise<Uint8Array>;
  readonly online: boolean;
}

export class AuditUploader {
  private running: Promise<void> | null = null;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly journal: AuditJournal, private readonly relay: RelayCalls, private readonly log: Logger) {
    journal.onRecord(() => this.kick());
  }

  /** Starts an upload now (or right after the one running). */
  kick(): Promise<void> {
    if (this.stopped || !this.relay.online || !this.relay.speaks('audit.v1')) return Promise.resolve();
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
      const empty = cmdop.v1.Empty.encode({}).finish();
      let head = cmdop.v1.AuditHeadResponse.decode(await this.relay.unary('audit', 'head', empty)).seq;
      this.journal.ack(Number(head));
      for (;;) {
        const lines = this.journal.pending(Number(head));
        if (lines.length === 0) return;
        const res = await this.relay.unary('audit', 'append', cmdop.v1.AppendAuditRequest.encode({ records: lines }).finish());
        head = cmdop.v1.AuditHeadResponse.decode(res).seq;
        this.journal.ack(Number(head));
      }
    } catch (err) {
      if (this.stopped) return;
      this.log.warn({ err: (err as Error).message }, 'audit upload failed; retrying');
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
