/** `client.audit`: the relay's audit log (a key without admin on every machine sees its own records). */
import { cmdop } from '../protocol/gen/cmdop.js';
import type { Caller } from './caller.js';

const v1 = cmdop.v1;

export interface AuditEvent {
  /** Position in the store: the cursor to continue after. */
  pos: number;
  chain: string;
  seq: number;
  time: Date;
  type: string;
  keyId: string;
  machineId: string;
  /** The record's own fields (what ran, bytes, result code...). */
  fields: Record<string, unknown>;
  hash: string;
}

export interface AuditQuery {
  since?: Date;
  until?: Date;
  machine?: string;
  key?: string;
  /** An exact type, or a prefix such as `stream.*`. */
  type?: string;
  after?: number;
  limit?: number;
}

export interface AuditVerdict {
  ok: boolean;
  records: number;
  chains: number;
  /** `chain#seq` of the first record that does not verify. */
  firstBad: string;
  reason: string;
}

function toEvent(e: cmdop.v1.IAuditEvent): AuditEvent {
  let fields: Record<string, unknown> = {};
  try {
    fields = JSON.parse(e.body ?? '{}') as Record<string, unknown>;
  } catch {
    // shown as is by verify
  }
  return { pos: Number(e.pos), chain: e.chain ?? '', seq: Number(e.seq), time: new Date(Number(e.tsMs)), type: e.type ?? '', keyId: e.keyId ?? '', machineId: e.machineId ?? '', fields, hash: e.hash ?? '' };
}

export class Audit {
  constructor(private readonly caller: Caller) {}

  /** One page of records, oldest first; pass `next` as `after` for the next page. */
  async list(q: AuditQuery = {}): Promise<{ items: AuditEvent[]; next: number }> {
    const req = v1.ListAuditRequest.encode({ sinceMs: q.since?.getTime() ?? 0, untilMs: q.until?.getTime() ?? 0, machine: q.machine ?? '', keyId: q.key ?? '', type: q.type ?? '', after: q.after ?? 0, limit: q.limit ?? 0 }).finish();
    const r = v1.ListAuditResponse.decode(await this.caller.unary('', 'audit', 'list', req));
    return { items: r.events.map(toEvent), next: Number(r.next) };
  }

  /** Every matching record, page by page. */
  async *iter(q: Omit<AuditQuery, 'after'> = {}): AsyncGenerator<AuditEvent> {
    let after = 0;
    for (;;) {
      const p = await this.list({ ...q, after, limit: q.limit ?? 500 });
      yield* p.items;
      if (p.items.length === 0) return;
      after = p.next;
    }
  }

  async *pages(q: Omit<AuditQuery, 'after'> = {}): AsyncGenerator<AuditEvent[]> {
    let after = 0;
    for (;;) {
      const p = await this.list({ ...q, after, limit: q.limit ?? 500 });
      if (p.items.length === 0) return;
      yield p.items;
      after = p.next;
    }
  }

  /** Checks every chain on the relay: hashes, signatures, order, and each agent's own chain. */
  async verify(): Promise<AuditVerdict> {
    const r = v1.VerifyAuditResponse.decode(await this.caller.unary('', 'audit', 'verify', v1.Empty.encode({}).finish(), 120_000));
    return { ok: r.ok, records: Number(r.records), chains: r.chains, firstBad: r.firstBad, reason: r.reason };
  }
}
