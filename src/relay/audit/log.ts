/**
 * The relay's audit log: every authenticated action as one structured record with a stable
 * type, chained and signed by this node (see control/audit/chain.ts), written to the store in
 * batches (one write per event-loop turn). Agents' own records (what ran) arrive over their
 * links, are checked against the agent's key and chain, and are carried in this node's chain;
 * the agent is told they are stored only once the store has them, so it never drops one early
 * and a retry is never stored twice.
 *
 * While the store is down the records wait in memory (bounded: past MAX_QUEUED they are
 * counted, and an `audit.overflow` record says how many were lost) and are written on recovery.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../log.js';
import { ConflictError, ValidationError } from '../../errors.js';
import { canonical, linkProblem, makeLink, type ChainLink } from '../../control/audit/chain.js';
import type { AuditRow } from '../store/records.js';
import type { RelayStore } from '../store/store.js';
import type { AuditIdentity } from './identity.js';

export const MAX_QUEUED = 100_000;
/** How often records past the retention are pruned. */
const PRUNE_EVERY_MS = 3600_000;
const RETRY_MS = 1000;

/** Fields every record may carry; the rest are the event's own. */
export interface AuditFields {
  key?: string;
  machine?: string;
  [field: string]: unknown;
}

interface Pending {
  type: string;
  tsMs: number;
  fields: AuditFields;
  agent?: ChainLink;
  done?: () => void;
}

export class AuditLog {
  private queue: Pending[] = [];
  private head: { seq: number; hash: string } | null;
  private writing = false;
  private scheduled = false;
  private retry: NodeJS.Timeout | undefined;
  private dropped = 0;
  private waiters: Array<() => void> = [];
  private readonly agentLocks = new Map<string, Promise<unknown>>();
  private stopped = false;
  private pruneTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly store: RelayStore, private readonly id: AuditIdentity, head: { seq: number; hash: string } | null, private readonly log: Logger, private readonly now: () => number) {
    this.head = head;
  }

  static async open(store: RelayStore, id: AuditIdentity, log: Logger, now: () => number = Date.now): Promise<AuditLog> {
    const a = new AuditLog(store, id, await store.auditHead(id.chain), log, now);
    if (!a.head) a.emit('audit.start', { publicKey: id.publicKeyB64 });
    return a;
  }

  get chain(): string {
    return this.id.chain;
  }

  emit(type: string, fields: AuditFields = {}): void {
    if (this.stopped) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push({ type, tsMs: this.now(), fields });
    this.schedule();
  }

  /** Resolves once every record emitted so far is in the store. */
  flushed(): Promise<void> {
    if (this.queue.length === 0 && !this.writing) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.retry) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.write();
    });
  }

  private async write(): Promise<void> {
    if (this.writing || this.queue.length === 0) return this.wake();
    this.writing = true;
    if (this.dropped > 0) {
      this.queue.unshift({ type: 'audit.overflow', tsMs: this.now(), fields: { dropped: this.dropped } });
      this.dropped = 0;
    }
    const batch = this.queue.splice(0, 5000);
    let head = this.head;
    const rows: AuditRow[] = batch.map((p, i) => {
      const { key, machine, ...rest } = p.fields;
      const body = canonical({ ts: p.tsMs, type: p.type, key: key ?? '', machine: machine ?? '', ...rest, ...(p.agent ? { agent: p.agent } : {}) });
      // One signature per write: the batch's last record vouches for the hashes before it.
      const l = makeLink(this.id.chain, head, body, i === batch.length - 1 ? this.id.key : null);
      head = { seq: l.seq, hash: l.hash };
      return { chain: l.chain, seq: l.seq, tsMs: p.tsMs, type: p.type, keyId: String(key ?? ''), machineId: String(machine ?? ''), body: l.body, prev: l.prev, hash: l.hash, sig: l.sig, agentSeq: p.agent ? p.agent.seq : null };
    });
    try {
      await this.store.appendAudit(rows);
      this.head = head;
      for (const p of batch) p.done?.();
    } catch (err) {
      // Not written: put the batch back (it is chained again from the same head next time).
      this.queue.unshift(...batch);
      this.log.warn({ err: (err as Error).message }, 'audit log: the store refused a batch; retrying');
      this.retry = setTimeout(() => {
        this.retry = undefined;
        void this.write();
      }, RETRY_MS);
      this.retry.unref();
      this.writing = false;
      return;
    }
    this.writing = false;
    if (this.queue.length) return this.write();
    this.wake();
  }

  private wake(): void {
    if (this.queue.length || this.writing) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The last agent record stored for a machine: its upload resumes after it. */
  agentHead(machineId: string): Promise<{ seq: number; hash: string } | null> {
    return this.store.agentAuditHead(machineId);
  }

  /**
   * Stores an agent's records (canonical JSON lines, in order). Records the relay already holds
   * are skipped, so a retried upload is stored once; one that does not continue the agent's
   * chain, or does not verify with its key, is refused. Returns the agent seq now stored.
   */
  appendAgent(machineId: string, key: KeyObject, lines: readonly string[]): Promise<number> {
    const prev = this.agentLocks.get(machineId) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.appendAgentNow(machineId, key, lines));
    this.agentLocks.set(machineId, run);
    void run.finally(() => {
      if (this.agentLocks.get(machineId) === run) this.agentLocks.delete(machineId);
    }).catch(() => undefined);
    return run;
  }

  private async appendAgentNow(machineId: string, key: KeyObject, lines: readonly string[]): Promise<number> {
    let head = await this.store.agentAuditHead(machineId);
    const fresh: Pending[] = [];
    for (const line of lines) {
      const l = parseLink(line);
      if (head && l.seq <= head.seq) {
        if (l.seq === head.seq && l.hash !== head.hash) throw new ConflictError(`agent audit record #${l.seq} differs from the one stored`, { detail: 'audit_broken' });
        continue; // stored already (a retried upload)
      }
      if (l.seq !== (head?.seq ?? 0) + 1 || l.prev !== (head?.hash ?? '')) throw new ConflictError(`agent audit record #${l.seq} does not follow #${head?.seq ?? 0} stored on the relay`, { detail: 'audit_broken' });
      const bad = l.sig === '' ? 'it is not signed' : linkProblem(l, key);
      if (bad) throw new ValidationError(`agent audit record #${l.seq}: ${bad}`, { detail: 'audit_broken' });
      const body = JSON.parse(l.body) as { ts?: number; type?: string; caller?: string };
      fresh.push({ type: `agent.${body.type ?? 'event'}`, tsMs: Number(body.ts) || this.now(), fields: { key: (body.caller ?? '').split('/')[0], machine: machineId }, agent: l });
      head = { seq: l.seq, hash: l.hash };
    }
    if (fresh.length === 0) return head?.seq ?? 0;
    if (this.stopped) throw new ConflictError('the relay is shutting down; upload again later');
    if (this.queue.length + fresh.length > MAX_QUEUED) throw new ConflictError('the relay audit queue is full; upload again later');
    const stored = Promise.all(fresh.map((p) => new Promise<void>((r) => (p.done = r))));
    this.queue.push(...fresh);
    this.schedule();
    await stored;
    return head!.seq;
  }

  /** Drops records (and schedule runs) older than the retention; returns how many records. */
  async prune(retentionMs: number): Promise<number> {
    const n = await this.store.pruneAudit(this.now() - retentionMs);
    const runs = await this.store.pruneRuns(this.now() - retentionMs);
    if (n || runs) this.emit('audit.pruned', { records: n, runs, beforeMs: this.now() - retentionMs });
    return n;
  }

  /** Keeps records for `retentionMs`: prunes now, then every hour. */
  keepFor(retentionMs: number): void {
    const run = () => void this.prune(retentionMs).catch((err: Error) => this.log.warn({ err: err.message }, 'audit prune failed'));
    run();
    this.pruneTimer = setInterval(run, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await Promise.race([this.flushed(), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.stopped = true;
    clearTimeout(this.retry);
  }
}

function parseLink(line: string): ChainLink {
  let l: ChainLink;
  try {
    l = JSON.parse(line) as ChainLink;
  } catch {
    throw new ValidationError('an agent audit record is not JSON');
  }
  if (typeof l?.seq !== 'number' || typeof l.hash !== 'string' || typeof l.body !== 'string' || typeof l.prev !== 'string' || typeof l.sig !== 'string' || typeof l.chain !== 'string') {
    throw new ValidationError('an agent audit record lacks chain, seq, prev, body, hash or sig');
  }
  return l;
}
