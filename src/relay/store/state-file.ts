/**
 * The embedded store's records on disk: `relay-state.json` (the whole state, pretty JSON, for cp
 * and jq) and `relay-state.journal` beside it (JSONL, one committed mutation a line, each a list of
 * whole-record changes). A mutation appends one line and syncs it, so its cost is its records, not
 * the state: enrolling the 10,000th machine writes one machine, not ten thousand. When the journal
 * outgrows the state it is folded in: the state file is rewritten atomically, then the journal
 * emptied. A crash between the two leaves a journal whose replay over the new state changes
 * nothing (each change is a whole record, applied in order).
 *
 * Group commit: a mutation's line is written at once and its records made current for the next
 * mutation's checks (a one-use token is used once), but the caller's promise resolves only once
 * an fdatasync covering the line returns. Mutations that arrive during one sync share the next,
 * so a herd of enrolments costs a few syncs, not one each on the event loop. A failed sync is
 * fatal for the store (as in PostgreSQL): what reached the disk is unknown, so every later call is
 * refused until a restart reads back what is there.
 *
 * Open = the state file, then the journal replayed over it. A torn last line (a mutation whose
 * append never returned) is cut; any other damaged line is refused with a clear error rather
 * than silently dropping a committed change such as a revocation.
 */
import { closeSync, existsSync, fdatasync, fdatasyncSync, ftruncateSync, readFileSync } from 'node:fs';
import { UnavailableError, ValidationError } from '../../errors.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import { CAPABILITIES } from '../../control/capabilities.js';
import { emptySnapshot, type Snapshot } from './records.js';
import { openLog, writeLog } from './jsonl.js';
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
  /** Callers whose lines are written, waiting for the next sync; and whether one is in flight. */
  private waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private syncing = false;
  private failed: Error | null = null;

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

  /**
   * Makes `changes` current for the next mutation at once, and resolves once they are durable.
   * Throws, changing nothing, if the write fails (a full disk).
   */
  commit(changes: readonly Change[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (changes.length === 0) return Promise.resolve();
    this.journalBytes = writeLog(this.fd, this.journalBytes, JSON.stringify({ v: STATE_VERSION, c: changes }) + '\n');
    for (const c of changes) this.tables.apply(c);
    return this.synced();
  }

  private synced(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) this.sync();
    });
  }

  private sync(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.syncing = true;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      if (err) {
        this.failed = new UnavailableError(`the relay state journal ${this.journalPath} could not be synced to disk (${err.code ?? err.message}); restart the relay`);
        for (const w of [...batch, ...this.waiting.splice(0)]) w.reject(this.failed);
        return;
      }
      for (const w of batch) w.resolve();
      if (this.waiting.length > 0) this.sync();
      else if (this.journalBytes > Math.max(FOLD_MIN_BYTES, this.stateBytes)) this.fold();
    });
  }

  /**
   * Writes the whole state and empties the journal, when no line is waiting for a sync. Every
   * mutation is already durable in the journal, so a failure here is nobody's: the journal keeps
   * growing and the next quiet moment tries again.
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

  /** Waits for a sync in flight (its callers are owed an answer), then closes. */
  async close(): Promise<void> {
    if (this.syncing) await this.synced().catch(() => undefined);
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
