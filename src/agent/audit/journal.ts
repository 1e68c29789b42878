/**
 * The agent's own audit records: chained and signed with the host's Ed25519 identity key, in
 * `<stateDir>/audit/events.jsonl`, until the relay has them. The file is bounded: once records
 * are acknowledged it is compacted to the last acknowledged one (the anchor the next record
 * chains from) plus those still to upload; past MAX_PENDING_BYTES of unacknowledged records new
 * ones are counted instead of kept, and an `audit.overflow` record says how many were lost.
 */
import { closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import { canonical, makeLink, type ChainLink } from '../../control/audit/chain.js';

export const MAX_PENDING_BYTES = 32 * 1024 * 1024;
/** The file is compacted after an acknowledgement once it is larger than this. */
export const COMPACT_BYTES = 4 * 1024 * 1024;
export const AGENT_CHAIN = 'agent';

export class AuditJournal {
  readonly path: string;
  private readonly ackedPath: string;
  private fd: number;
  private head: { seq: number; hash: string } | null = null;
  private pendingLines: { seq: number; line: string }[] = [];
  private pendingBytes = 0;
  private anchor = '';
  private acked = 0;
  private dropped = 0;
  private syncScheduled = false;
  private listeners = new Set<() => void>();

  constructor(
    dir: string,
    private readonly sign: (digest: Uint8Array) => Uint8Array,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly bounds = { maxPendingBytes: MAX_PENDING_BYTES, compactBytes: COMPACT_BYTES },
  ) {
    const d = join(dir, 'audit');
    mkdirSync(d, { recursive: true, mode: 0o700 });
    this.path = join(d, 'events.jsonl');
    this.ackedPath = join(d, 'acked');
    this.acked = existsSync(this.ackedPath) ? Number(readFileSync(this.ackedPath, 'utf8')) || 0 : 0;
    this.fd = this.open();
  }

  private open(): number {
    const fd = openSync(this.path, 'a+', 0o600);
    const all = readFileSync(this.path, 'utf8');
    // A torn last line (a crash mid-write) was never uploaded: cut it.
    const text = all.slice(0, all.lastIndexOf('\n') + 1);
    if (text.length < all.length) ftruncateSync(fd, Buffer.byteLength(text));
    for (const line of text.split('\n')) {
      if (!line) continue;
      let l: ChainLink;
      try {
        l = JSON.parse(line) as ChainLink;
      } catch {
        continue; // a damaged line: `cmdop-agent audit verify` names it
      }
      this.head = { seq: l.seq, hash: l.hash };
      if (l.seq > this.acked) this.keep(l.seq, line);
      else this.anchor = line;
    }
    return fd;
  }

  private keep(seq: number, line: string): void {
    this.pendingLines.push({ seq, line });
    this.pendingBytes += line.length + 1;
  }

  /** Records one event. Never throws: auditing must not break the action it records. */
  record(type: string, caller: string, fields: Record<string, unknown>): void {
    if (this.fd < 0) return;
    try {
      if (this.pendingBytes >= this.bounds.maxPendingBytes) {
        this.dropped++;
        return;
      }
      if (this.dropped) {
        const n = this.dropped;
        this.dropped = 0;
        this.append('audit.overflow', '', { dropped: n });
      }
      this.append(type, caller, fields);
      for (const f of this.listeners) f();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'audit journal: could not record');
    }
  }

  private append(type: string, caller: string, fields: Record<string, unknown>): void {
    const body = canonical({ ts: this.now(), type, caller, ...fields });
    const l = makeLink(AGENT_CHAIN, this.head, body, this.sign);
    const line = JSON.stringify(l);
    writeSync(this.fd, line + '\n');
    this.head = { seq: l.seq, hash: l.hash };
    this.keep(l.seq, line);
    this.scheduleSync();
  }

  /** One fdatasync per event-loop turn, however many records it wrote. */
  private scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      try {
        fdatasyncSync(this.fd);
      } catch {
        // closed meanwhile
      }
    });
  }

  onRecord(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Records after `seq`, oldest first, at most `maxBytes` of them (at least one). */
  pending(after: number, maxBytes = 1024 * 1024): string[] {
    const out: string[] = [];
    let bytes = 0;
    for (const p of this.pendingLines) {
      if (p.seq <= after) continue;
      if (out.length && bytes + p.line.length > maxBytes) break;
      out.push(p.line);
      bytes += p.line.length;
    }
    return out;
  }

  get pendingCount(): number {
    return this.pendingLines.length;
  }

  get lastSeq(): number {
    return this.head?.seq ?? 0;
  }

  /** The relay stored every record up to `seq`. */
  ack(relaySeq: number): void {
    // Never past what this file holds: a relay ahead of it (the file was lost) acknowledges nothing here.
    const seq = Math.min(relaySeq, this.lastSeq);
    if (seq <= this.acked) return;
    this.acked = seq;
    writeFileAtomic(this.ackedPath, `${seq}\n`);
    while (this.pendingLines.length && this.pendingLines[0]!.seq <= seq) {
      const p = this.pendingLines.shift()!;
      this.pendingBytes -= p.line.length + 1;
      this.anchor = p.line;
    }
    if (statSync(this.path).size > this.bounds.compactBytes) this.compact();
  }

  /** Rewrites the file as the anchor plus the records still to upload. */
  private compact(): void {
    const lines = [this.anchor, ...this.pendingLines.map((p) => p.line)].filter(Boolean);
    closeSync(this.fd);
    writeFileAtomic(this.path, lines.map((l) => l + '\n').join(''));
    this.fd = openSync(this.path, 'a', 0o600);
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      fdatasyncSync(this.fd);
    } catch {
      // nothing to flush
    }
    closeSync(this.fd);
    this.fd = -1;
  }
}
