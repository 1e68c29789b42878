/**
 * The embedded store's records on disk: `relay-state.json` (the whole state, pretty JSON, for cp
 * and jq) and `relay-state.journal` beside it (JSONL, one committed mutation a line, each a list of
 * whole-record changes). A mutation appends one line and syncs it, so its cost is its records, not
 * the state: enrolling the 10,000th machine writes one machine, not ten thousand. When the journal
 * outgrows the state it is folded in: the state file is rewritten atomically, then the journal
 * emptied. A crash between the two leaves a journal whose replay over the new state changes
 * nothing (each change is a whole record, applied in order).
 *
 * Open = the state file, then the journal replayed over it. A torn last line (a mutation whose
 * append never returned) is cut; any other damaged line is refused with a clear error rather
 * than silently dropping a committed change such as a revocation.
 */
import { closeSync, existsSync, fdatasyncSync, ftruncateSync, readFileSync } from 'node:fs';
import { ValidationError } from '../../errors.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import { CAPABILITIES } from '../../control/capabilities.js';
import { emptySnapshot, type Snapshot } from './records.js';
import { appendLog, openLog } from './jsonl.js';
import { parseChange, Tables, type Change } from './tables.js';

export const STATE_VERSION = 2;
/** The journal is folded into the state once it is larger than the state and at least this. */
const FOLD_MIN_BYTES = 1 << 20;

/** Version 1 (before fleets and grants): every key could do everything, so it keeps that. */
export function migrate(data: Record<string, unknown>, path: string): Snapshot {
  const v = data.version;
  if (v !== 1 && v !== STATE_VERSION) throw new ValidationError(`relay state ${path} has unknown version ${String(v)}`);
  const s = { ...emptySnapshot(), ...(data as unknown as Partial<Snapshot>) };
  if (v === 1) {
    s.keys = s.keys.map((k) => ({ ...k, expiresMs: null, grants: [{ on: 'all', caps: [...CAPABILITIES] }] }));
    s.tokens = s.tokens.map((t) => ({ ...t, fleetId: '' }));
  }
  return s;
}

export class StateFile {
  readonly tables: Tables;
  private fd: number;
  private journalBytes: number;
  private stateBytes = 0;

  constructor(readonly path: string, readonly journalPath: string) {
    this.tables = Tables.from(this.readState());
    const log = openLog(journalPath);
    this.fd = log.fd;
    this.journalBytes = log.bytes;
    log.lines.forEach((line, i) => {
      if (!line) return;
      for (const c of this.parseLine(line, i + 1)) this.tables.apply(c);
    });
  }

  private readState(): Snapshot {
    if (!existsSync(this.path)) return emptySnapshot();
    let text: string;
    let data: Record<string, unknown>;
    try {
      text = readFileSync(this.path, 'utf8');
      data = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ValidationError(`relay state ${this.path} is not valid JSON; restore it from a backup`, { cause: err });
    }
    this.stateBytes = Buffer.byteLength(text);
    return migrate(data, this.path);
  }

  private parseLine(line: string, n: number): Change[] {
    try {
      const v = JSON.parse(line) as { v?: unknown; c?: unknown };
      if (v.v !== STATE_VERSION || !Array.isArray(v.c)) throw new ValidationError(`unknown version ${String(v.v)}`);
      return v.c.map(parseChange);
    } catch (err) {
      throw new ValidationError(`relay state journal ${this.journalPath} line ${n} is damaged; restore the data dir from a backup`, { cause: err });
    }
  }

  /** Makes `changes` durable (one journal line), then current. Throws, changing nothing, if the write fails. */
  commit(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    this.journalBytes = appendLog(this.fd, this.journalBytes, JSON.stringify({ v: STATE_VERSION, c: changes }) + '\n');
    for (const c of changes) this.tables.apply(c);
    if (this.journalBytes > Math.max(FOLD_MIN_BYTES, this.stateBytes)) this.fold();
  }

  /**
   * Writes the whole state and empties the journal. The mutation that called it is already
   * durable in the journal, so a failure here is not the caller's: the journal keeps growing and
   * the next commit tries again.
   */
  fold(): void {
    try {
      const text = JSON.stringify({ version: STATE_VERSION, ...this.tables.view() }, null, 1);
      writeFileAtomic(this.path, text);
      this.stateBytes = Buffer.byteLength(text);
      ftruncateSync(this.fd, 0);
      this.journalBytes = 0;
      fdatasyncSync(this.fd);
    } catch {
      // retried at the next commit; nothing committed is lost
    }
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
