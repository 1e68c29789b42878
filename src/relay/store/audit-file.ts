/**
 * The embedded store's audit log: an append-only JSONL file, one row a line, in store order
 * (one relay process owns it, so a row's seq is its place). It keeps each chain's head, each
 * machine's last agent record, and a sparse offset index (one entry per INDEX_EVERY rows) so a
 * page after a cursor reads from near it instead of from the start.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, readSync } from 'node:fs';
import { ConflictError } from '../../errors.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import type { AuditPage, AuditQuery, AuditRow } from './records.js';
import { filterAudit } from './rules.js';
import { appendLog, openLog } from './jsonl.js';

/** One offset is kept per this many audit rows. */
const INDEX_EVERY = 512;

export class AuditFile {
  private fd: number;
  private heads = new Map<string, { seq: number; hash: string }>();
  private agentHeads = new Map<string, { seq: number; hash: string }>();
  private index: { seq: number; offset: number }[] = [];
  /** Bytes of whole rows in the log. */
  private size = 0;

  constructor(readonly path: string) {
    this.fd = this.open();
  }

  /**
   * Opens the log for appending. What a crash mid-write left is cut: a torn last line, and the
   * unsigned rows of a batch whose signed last row never reached the file. Neither was ever
   * acknowledged (an append returns only once its whole batch is written).
   */
  private open(): number {
    const { fd, lines, bytes } = openLog(this.path);
    const rows: (AuditRow | null)[] = lines.map((line) => {
      try {
        return JSON.parse(line) as AuditRow;
      } catch {
        return null; // a damaged line: `audit verify` names it
      }
    });
    let keep = rows.length;
    while (keep > 0 && rows[keep - 1]?.sig === '') keep--;
    this.index = [];
    this.size = 0;
    for (let i = 0; i < keep; i++) {
      const r = rows[i];
      if (r) {
        this.noteHead(r);
        this.noteOffset(r.seq);
      }
      this.size += Buffer.byteLength(lines[i]!) + 1;
    }
    if (this.size < bytes) ftruncateSync(fd, this.size);
    return fd;
  }

  /** Keeps every INDEX_EVERY-th row's offset: a page after a cursor reads from near it. */
  private noteOffset(seq: number): void {
    const last = this.index[this.index.length - 1];
    if (!last || seq - last.seq >= INDEX_EVERY) this.index.push({ seq, offset: this.size });
  }

  /** Rows from near `after` (a seq) to the end, parsed one by one (damaged lines are skipped: verify names them). */
  private *rowsAfter(after: number): Generator<AuditRow> {
    let lo = 0;
    let hi = this.index.length - 1;
    let from = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.index[mid]!.seq <= after) {
        from = this.index[mid]!.offset;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const fd = openSync(this.path, 'r');
    try {
      const chunk = Buffer.alloc(1024 * 1024);
      let rest = '';
      for (let pos = from; pos < this.size; ) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, this.size - pos), pos);
        if (n <= 0) break;
        pos += n;
        const lines = (rest + chunk.subarray(0, n).toString('utf8')).split('\n');
        rest = lines.pop()!;
        for (const line of lines) {
          if (!line) continue;
          try {
            yield JSON.parse(line) as AuditRow;
          } catch {
            // skipped
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  private noteHead(r: AuditRow): void {
    this.heads.set(r.chain, { seq: r.seq, hash: r.hash });
    if (r.agentSeq !== null && r.machineId) {
      const inner = JSON.parse(r.body) as { agent?: { hash: string } };
      this.agentHeads.set(r.machineId, { seq: r.agentSeq, hash: inner.agent?.hash ?? '' });
    }
  }

  head(chain: string): { seq: number; hash: string } | null {
    return this.heads.get(chain) ?? null;
  }

  agentHead(machineId: string): { seq: number; hash: string } | null {
    return this.agentHeads.get(machineId) ?? null;
  }

  append(rows: readonly AuditRow[]): void {
    if (rows.length === 0) return;
    const heads = new Map<string, number>();
    for (const r of rows) {
      const last = heads.get(r.chain) ?? this.heads.get(r.chain)?.seq ?? 0;
      if (r.seq !== last + 1) throw new ConflictError(`audit record ${r.chain}#${r.seq} does not follow #${last}`);
      heads.set(r.chain, r.seq);
    }
    const lines = rows.map((r) => JSON.stringify(r) + '\n');
    appendLog(this.fd, this.size, lines.join(''));
    rows.forEach((r, i) => {
      this.noteHead(r);
      this.noteOffset(r.seq);
      this.size += Buffer.byteLength(lines[i]!);
    });
  }

  query(q: AuditQuery): AuditPage {
    // One chain, one writer: a row's place in the file is its seq, and the file is in seq order.
    const rows = this.rowsAfter(q.after ?? 0);
    return filterAudit((function* () {
      for (const r of rows) yield { ...r, pos: r.seq };
    })(), q);
  }

  /** The raw lines, for `audit verify` over the file itself. */
  lines(): string[] {
    return readFileSync(this.path, 'utf8').split('\n').filter(Boolean);
  }

  prune(beforeMs: number): number {
    const lines = this.lines();
    const keep = lines.filter((l) => {
      try {
        return (JSON.parse(l) as AuditRow).tsMs >= beforeMs;
      } catch {
        return true;
      }
    });
    if (keep.length === lines.length) return 0;
    closeSync(this.fd);
    writeFileAtomic(this.path, keep.map((l) => l + '\n').join(''));
    this.fd = this.open(); // the offsets index again (the heads are kept)
    return lines.length - keep.length;
  }

  /** Idempotent: the descriptor number is never closed twice (it may have been reused). */
  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
