/**
 * The embedded store's schedule runs: an append-only JSONL file, one run a line, held in memory
 * (the embedded store is for one relay and a modest fleet; PostgreSQL is the store for more).
 * A run's position is its line number, which is the cursor `runs` pages by.
 */
import { closeSync } from 'node:fs';
import { writeFileAtomic } from '../../platform/atomic.js';
import { appendLog, openLog } from './jsonl.js';
import type { RunPage, RunQuery, RunRecord } from './records.js';

export class RunsFile {
  private fd: number;
  private runs: (RunRecord & { pos: number })[] = [];
  private heads = new Map<string, number>();
  private nextPos = 1;
  private size = 0;

  constructor(readonly path: string) {
    this.fd = this.open();
  }

  private open(): number {
    const { fd, lines, bytes } = openLog(this.path);
    this.size = bytes;
    this.runs = [];
    this.heads.clear();
    for (const line of lines) {
      if (!line) continue;
      try {
        this.note(JSON.parse(line) as RunRecord & { pos: number });
      } catch {
        // a damaged line is skipped
      }
    }
    return fd;
  }

  private note(r: RunRecord & { pos: number }): void {
    this.runs.push(r);
    this.heads.set(r.machineId, Math.max(this.heads.get(r.machineId) ?? 0, r.seq));
    this.nextPos = Math.max(this.nextPos, r.pos + 1);
  }

  head(machineId: string): number {
    return this.heads.get(machineId) ?? 0;
  }

  append(machineId: string, runs: readonly RunRecord[]): number {
    let head = this.head(machineId);
    const fresh: (RunRecord & { pos: number })[] = [];
    for (const r of runs) {
      if (r.seq <= head) continue;
      fresh.push({ ...r, machineId, pos: this.nextPos + fresh.length });
      head = r.seq;
    }
    if (fresh.length === 0) return head;
    this.size = appendLog(this.fd, this.size, fresh.map((r) => JSON.stringify(r) + '\n').join(''));
    for (const r of fresh) this.note(r);
    return head;
  }

  query(q: RunQuery): RunPage {
    const out: (RunRecord & { pos: number })[] = [];
    for (const r of this.runs) {
      if (q.after !== undefined && r.pos <= q.after) continue;
      if ((q.scheduleId && r.scheduleId !== q.scheduleId) || (q.machineId && r.machineId !== q.machineId)) continue;
      out.push(r);
      if (out.length >= q.limit) break;
    }
    return { runs: out, next: out.length ? out[out.length - 1]!.pos : (q.after ?? 0) };
  }

  prune(beforeMs: number): number {
    const keep = this.runs.filter((r) => r.endMs >= beforeMs);
    if (keep.length === this.runs.length) return 0;
    const heads = new Map(this.heads); // a pruned machine's head stays: its old runs are not taken again
    closeSync(this.fd);
    writeFileAtomic(this.path, keep.map((r) => JSON.stringify(r) + '\n').join(''));
    const gone = this.runs.length - keep.length;
    this.fd = this.open();
    for (const [m, h] of heads) this.heads.set(m, Math.max(h, this.heads.get(m) ?? 0));
    return gone;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
