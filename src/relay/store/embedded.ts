/**
 * The embedded store (the default): records in one JSON file written atomically (temp, fsync,
 * rename), the audit log in an append-only JSONL file beside it. Why files: a self-hoster backs
 * them up with cp, reads them with jq, and the relay stays one binary with no database server.
 * One relay process owns the directory (its pid file says which).
 *
 * Every mutation is one method on one record; it changes a private copy and writes the file
 * before it returns, so a caller never sees a change that is not on disk.
 */
import { closeSync, existsSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, AuthError, ValidationError } from '../../errors.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import { CAPABILITIES } from '../../control/capabilities.js';
import { emptySnapshot, type AuditPage, type AuditQuery, type AuditRow, type FleetRecord, type KeyRecord, type MachineRecord, type MemberRecord, type Snapshot, type TokenRecord } from './records.js';
import type { EnrollResult, MachineTouch, RelayStore } from './store.js';
import { checkTokenUsable, filterAudit } from './rules.js';

const STATE_VERSION = 2;
/** One offset is kept per this many audit rows. */
const INDEX_EVERY = 512;
const clone = <T>(v: T): T => structuredClone(v);

/** Version 1 (before fleets and grants): every key could do everything, so it keeps that. */
function migrate(data: Record<string, unknown>, path: string): Snapshot {
  const v = data.version;
  if (v !== 1 && v !== STATE_VERSION) throw new ValidationError(`relay state ${path} has unknown version ${String(v)}`);
  const s = { ...emptySnapshot(), ...(data as unknown as Partial<Snapshot>) };
  if (v === 1) {
    s.keys = s.keys.map((k) => ({ ...k, expiresMs: null, grants: [{ on: 'all', caps: [...CAPABILITIES] }] }));
    s.tokens = s.tokens.map((t) => ({ ...t, fleetId: '' }));
  }
  return s;
}

export class EmbeddedStore implements RelayStore {
  readonly path: string;
  readonly auditPath: string;
  readonly describe: string;
  private data: Snapshot;
  private auditFd: number;
  private heads = new Map<string, { seq: number; hash: string }>();
  private index: { seq: number; offset: number }[] = [];
  /** Bytes of whole rows in the log. */
  private size = 0;
  private agentHeads = new Map<string, { seq: number; hash: string }>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, 'relay-state.json');
    this.auditPath = join(dir, 'audit.jsonl');
    this.describe = `embedded:${dir}`;
    this.data = this.load();
    this.auditFd = this.openAudit();
  }

  private load(): Snapshot {
    if (!existsSync(this.path)) return emptySnapshot();
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ValidationError(`relay state ${this.path} is not valid JSON; restore it from a backup`, { cause: err });
    }
    return migrate(data, this.path);
  }

  /**
   * Opens the log for appending. What a crash mid-write left is cut: a torn last line, and the
   * unsigned rows of a batch whose signed last row never reached the file. Neither was ever
   * acknowledged (an append returns only once its whole batch is written).
   */
  private openAudit(): number {
    const fd = openSync(this.auditPath, 'a+', 0o600);
    const text = readFileSync(this.auditPath, 'utf8');
    const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').slice(0, -1);
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
    if (this.size < Buffer.byteLength(text)) ftruncateSync(fd, this.size);
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
    const fd = openSync(this.auditPath, 'r');
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

  private save(next: Snapshot): void {
    writeFileAtomic(this.path, JSON.stringify({ version: STATE_VERSION, ...next }, null, 1));
    this.data = next;
  }

  /** Applies one change to a copy, writes it, and only then makes it current. */
  private change<T>(fn: (d: Snapshot) => T): T {
    const next = clone(this.data);
    const out = fn(next);
    this.save(next);
    return out;
  }

  async snapshot(): Promise<Snapshot> {
    return clone(this.data);
  }

  async putKey(k: KeyRecord): Promise<void> {
    this.change((d) => upsert(d.keys, clone(k), (x) => x.id === k.id));
  }

  async revokeKey(id: string): Promise<boolean> {
    if (!this.data.keys.some((k) => k.id === id)) return false;
    this.change((d) => (d.keys.find((k) => k.id === id)!.revoked = true));
    return true;
  }

  async putToken(t: TokenRecord): Promise<void> {
    this.change((d) => upsert(d.tokens, clone(t), (x) => x.id === t.id));
  }

  async revokeToken(id: string): Promise<boolean> {
    if (!this.data.tokens.some((t) => t.id === id)) return false;
    this.change((d) => (d.tokens.find((t) => t.id === id)!.revoked = true));
    return true;
  }

  async enroll(tokenId: string, m: MachineRecord, nowMs: number): Promise<EnrollResult> {
    return this.change((d) => {
      const token = d.tokens.find((t) => t.id === tokenId);
      if (!token) throw new AuthError('invalid or revoked join token');
      checkTokenUsable(token, nowMs);
      if (token.usesLeft !== null) token.usesLeft--;
      token.uses++;
      let machine = d.machines.find((x) => x.publicKey === m.publicKey);
      const created = !machine;
      if (machine) Object.assign(machine, { hostname: m.hostname, agentVersion: m.agentVersion, os: m.os, arch: m.arch });
      else d.machines.push((machine = clone(m)));
      if (token.fleetId && d.fleets.some((f) => f.id === token.fleetId) && !d.fleetMachines.some((x) => x.fleetId === token.fleetId && x.machineId === machine.id)) {
        d.fleetMachines.push({ fleetId: token.fleetId, machineId: machine.id });
      }
      return { machine: clone(machine), token: clone(token), created };
    });
  }

  async putMachine(m: MachineRecord): Promise<void> {
    this.change((d) => upsert(d.machines, clone(m), (x) => x.id === m.id));
  }

  async touchMachines(seen: ReadonlyArray<MachineTouch>): Promise<void> {
    const by = new Map(seen.map((s) => [s.id, s]));
    this.change((d) => {
      for (const m of d.machines) {
        const t = by.get(m.id);
        if (!t) continue;
        m.lastSeenMs = Math.max(m.lastSeenMs, t.lastSeenMs);
        m.agentVersion = t.agentVersion || m.agentVersion;
      }
    });
  }

  async touchKeys(used: ReadonlyArray<{ id: string; lastUsedMs: number }>): Promise<void> {
    const by = new Map(used.map((u) => [u.id, u.lastUsedMs]));
    this.change((d) => {
      for (const k of d.keys) k.lastUsedMs = Math.max(k.lastUsedMs, by.get(k.id) ?? 0);
    });
  }

  async putFleet(f: FleetRecord): Promise<void> {
    if (this.data.fleets.some((x) => x.name === f.name && x.id !== f.id)) throw new ConflictError(`a fleet is already called ${f.name}`);
    this.change((d) => upsert(d.fleets, clone(f), (x) => x.id === f.id));
  }

  async attach(fleetId: string, machineId: string): Promise<void> {
    if (!this.data.fleets.some((f) => f.id === fleetId)) throw new NotFoundError(`no fleet ${fleetId}`);
    if (this.data.fleetMachines.some((x) => x.fleetId === fleetId && x.machineId === machineId)) return;
    this.change((d) => d.fleetMachines.push({ fleetId, machineId }));
  }

  async detach(fleetId: string, machineId: string): Promise<boolean> {
    const i = this.data.fleetMachines.findIndex((x) => x.fleetId === fleetId && x.machineId === machineId);
    if (i < 0) return false;
    this.change((d) => d.fleetMachines.splice(i, 1));
    return true;
  }

  async putMember(m: MemberRecord): Promise<void> {
    if (!this.data.fleets.some((f) => f.id === m.fleetId)) throw new NotFoundError(`no fleet ${m.fleetId}`);
    this.change((d) => upsert(d.members, clone(m), (x) => x.fleetId === m.fleetId && x.keyId === m.keyId));
  }

  async removeMember(fleetId: string, keyId: string): Promise<boolean> {
    const i = this.data.members.findIndex((x) => x.fleetId === fleetId && x.keyId === keyId);
    if (i < 0) return false;
    this.change((d) => d.members.splice(i, 1));
    return true;
  }

  async auditHead(chain: string): Promise<{ seq: number; hash: string } | null> {
    return this.heads.get(chain) ?? null;
  }

  async agentAuditHead(machineId: string): Promise<{ seq: number; hash: string } | null> {
    return this.agentHeads.get(machineId) ?? null;
  }

  async appendAudit(rows: readonly AuditRow[]): Promise<void> {
    if (rows.length === 0) return;
    const heads = new Map<string, number>();
    for (const r of rows) {
      const last = heads.get(r.chain) ?? this.heads.get(r.chain)?.seq ?? 0;
      if (r.seq !== last + 1) throw new ConflictError(`audit record ${r.chain}#${r.seq} does not follow #${last}`);
      heads.set(r.chain, r.seq);
    }
    const lines = rows.map((r) => JSON.stringify(r) + '\n');
    const buf = Buffer.from(lines.join(''));
    for (let off = 0; off < buf.length; ) off += writeSync(this.auditFd, buf, off, buf.length - off);
    fdatasyncSync(this.auditFd);
    rows.forEach((r, i) => {
      this.noteHead(r);
      this.noteOffset(r.seq);
      this.size += Buffer.byteLength(lines[i]!);
    });
  }

  async queryAudit(q: AuditQuery): Promise<AuditPage> {
    // One chain, one writer: a row's place in the file is its seq, and the file is in seq order.
    const rows = this.rowsAfter(q.after ?? 0);
    return filterAudit((function* () {
      for (const r of rows) yield { ...r, pos: r.seq };
    })(), q);
  }

  /** The raw lines, for `audit verify` over the file itself. */
  auditLines(): string[] {
    return readFileSync(this.auditPath, 'utf8').split('\n').filter(Boolean);
  }

  async pruneAudit(beforeMs: number): Promise<number> {
    const lines = this.auditLines();
    const keep = lines.filter((l) => {
      try {
        return (JSON.parse(l) as AuditRow).tsMs >= beforeMs;
      } catch {
        return true;
      }
    });
    if (keep.length === lines.length) return 0;
    closeSync(this.auditFd);
    writeFileAtomic(this.auditPath, keep.map((l) => l + '\n').join(''));
    this.auditFd = this.openAudit(); // the offsets index again (the heads are kept)
    return lines.length - keep.length;
  }

  /** Idempotent: the descriptor number is never closed twice (it may have been reused). */
  async close(): Promise<void> {
    if (this.auditFd < 0) return;
    closeSync(this.auditFd);
    this.auditFd = -1;
  }
}

function upsert<T>(list: T[], item: T, same: (x: T) => boolean): void {
  const i = list.findIndex(same);
  if (i < 0) list.push(item);
  else list[i] = item;
}
