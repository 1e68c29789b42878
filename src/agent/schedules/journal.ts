/**
 * Run records waiting for the relay, in `<stateDir>/schedules/runs.jsonl`: each run gets the
 * next seq, is appended and fsynced, and stays until the relay acknowledges a head at or past it
 * (the file is compacted now and then). Bounded: past MAX_PENDING records the oldest unacknowledged are
 * dropped and the next record says how many, so a host offline for months cannot fill its disk.
 */
import { closeSync, existsSync, fdatasyncSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic.js';
import type { RunRecord } from '../../relay/store/records.js';

export const MAX_PENDING = 20_000;
/** Records per report, and their rough size: a report is one Open frame, far below MAX_FRAME_PAYLOAD. */
export const BATCH = 500;
export const BATCH_BYTES = 256 * 1024;
/** The file is compacted once it holds this many acknowledged records. */
export const COMPACT_AFTER = 1000;

export class RunJournal {
  private readonly path: string;
  private readonly ackedPath: string;
  private fd = -1;
  private pendingRuns: RunRecord[] = [];
  private seq = 0;
  private acked = 0;
  private dropped = 0;
  /** Acknowledged records still in the file (dropped at the next compaction). */
  private ackedInFile = 0;
  private readonly listeners = new Set<() => void>();

  constructor(dir: string, private readonly maxPending = MAX_PENDING) {
    this.path = join(dir, 'runs.jsonl');
    this.ackedPath = join(dir, 'runs.acked');
    this.acked = existsSync(this.ackedPath) ? Number(readFileSync(this.ackedPath, 'utf8')) || 0 : 0;
    this.seq = this.acked;
    if (existsSync(this.path)) {
      const text = readFileSync(this.path, 'utf8');
      for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
        if (!line) continue;
        try {
          const r = JSON.parse(line) as RunRecord;
          this.seq = Math.max(this.seq, r.seq);
          if (r.seq > this.acked) this.pendingRuns.push(r);
        } catch {
          // a torn or damaged line was never acknowledged; its seq is simply not used again
        }
      }
    }
    this.rewrite();
  }

  onRecord(fn: () => void): void {
    this.listeners.add(fn);
  }

  /** Stores a run (its seq assigned here) durably before returning it. */
  append(run: Omit<RunRecord, 'seq'>): RunRecord {
    if (this.pendingRuns.length >= this.maxPending) {
      this.pendingRuns.shift();
      this.dropped++;
    }
    const r: RunRecord = { ...run, seq: ++this.seq };
    if (this.dropped) {
      r.reason = `${r.reason ? r.reason + '; ' : ''}${this.dropped} older run records were dropped while the relay was unreachable (journal full)`;
      this.dropped = 0;
    }
    if (this.fd < 0) return r; // closed: the agent is stopping
    const buf = Buffer.from(JSON.stringify(r) + '\n');
    for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
    fdatasyncSync(this.fd);
    this.pendingRuns.push(r);
    for (const fn of this.listeners) fn();
    return r;
  }

  /** Records after `after`, at most BATCH of them and about BATCH_BYTES (a report travels in one frame). */
  pending(after: number): RunRecord[] {
    const out: RunRecord[] = [];
    let bytes = 0;
    for (const r of this.pendingRuns) {
      if (r.seq <= after) continue;
      bytes += r.outputHead.length + r.outputTail.length + r.reason.length + 256;
      if (out.length > 0 && bytes > BATCH_BYTES) break;
      out.push(r);
      if (out.length >= BATCH) break;
    }
    return out;
  }

  /**
   * The relay stored everything up to `head`. Neither the acknowledgement nor the compaction needs
   * to be durable: a record the file still holds after a crash is sent again and the relay, which
   * stores a machine's runs by number, skips it. So acks cost no fsync on the run path, and the
   * file is rewritten only once it holds COMPACT_AFTER acknowledged records.
   */
  ack(head: number): void {
    if (head <= this.acked) return;
    // A relay that lost its runs (a restored backup) answers a lower head: keep ours, resend nothing twice.
    const acked = Math.min(head, this.seq);
    const gone = this.pendingRuns.filter((r) => r.seq <= acked).length;
    this.acked = acked;
    writeFileSync(this.ackedPath, String(this.acked), { mode: 0o600 });
    this.pendingRuns = this.pendingRuns.slice(gone);
    this.ackedInFile += gone;
    if (this.ackedInFile >= COMPACT_AFTER) this.rewrite();
  }

  get unacknowledged(): number {
    return this.pendingRuns.length;
  }

  private rewrite(): void {
    this.ackedInFile = 0;
    if (this.fd >= 0) closeSync(this.fd);
    writeFileAtomic(this.path, this.pendingRuns.map((r) => JSON.stringify(r) + '\n').join(''));
    this.fd = openSync(this.path, 'a', 0o600);
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
