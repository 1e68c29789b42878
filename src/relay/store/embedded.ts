/**
 * The embedded store (the default): records in one JSON file written atomically (temp, fsync,
 * rename), the audit log in an append-only JSONL file beside it. Why files: a self-hoster backs
 * them up with cp, reads them with jq, and the relay stays one binary with no database server.
 * One relay process owns the directory (its pid file says which).
 *
 * Every mutation is one method on one record; it changes a private copy and writes the file
 * before it returns, so a caller never sees a change that is not on disk.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, AuthError, ValidationError } from '../../errors.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import { CAPABILITIES } from '../../control/capabilities.js';
import { emptySnapshot, type AuditPage, type AuditQuery, type AuditRow, type FleetRecord, type KeyRecord, type MachineRecord, type MemberRecord, type RunPage, type RunQuery, type RunRecord, type ScheduleRecord, type Snapshot, type TokenRecord } from './records.js';
import type { EnrollResult, MachineTouch, RelayStore } from './store.js';
import { checkTokenUsable } from './rules.js';
import { AuditFile } from './audit-file.js';
import { RunsFile } from './runs-file.js';

const STATE_VERSION = 2;
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
  private readonly audit: AuditFile;
  private readonly runs: RunsFile;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, 'relay-state.json');
    this.auditPath = join(dir, 'audit.jsonl');
    this.describe = `embedded:${dir}`;
    this.data = this.load();
    this.audit = new AuditFile(this.auditPath);
    this.runs = new RunsFile(join(dir, 'schedule-runs.jsonl'));
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

  async putSchedule(s: ScheduleRecord): Promise<void> {
    if (this.data.schedules.some((x) => x.name === s.name && x.id !== s.id)) throw new ConflictError(`a schedule is already called ${s.name}`);
    this.change((d) => upsert(d.schedules, clone(s), (x) => x.id === s.id));
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const i = this.data.schedules.findIndex((x) => x.id === id);
    if (i < 0) return false;
    this.change((d) => d.schedules.splice(i, 1));
    return true;
  }

  async runsHead(machineId: string): Promise<number> {
    return this.runs.head(machineId);
  }

  async appendRuns(machineId: string, runs: readonly RunRecord[]): Promise<number> {
    return this.runs.append(machineId, runs);
  }

  async queryRuns(q: RunQuery): Promise<RunPage> {
    return this.runs.query(q);
  }

  async pruneRuns(beforeMs: number): Promise<number> {
    return this.runs.prune(beforeMs);
  }

  async auditHead(chain: string): Promise<{ seq: number; hash: string } | null> {
    return this.audit.head(chain);
  }

  async agentAuditHead(machineId: string): Promise<{ seq: number; hash: string } | null> {
    return this.audit.agentHead(machineId);
  }

  async appendAudit(rows: readonly AuditRow[]): Promise<void> {
    this.audit.append(rows);
  }

  async queryAudit(q: AuditQuery): Promise<AuditPage> {
    return this.audit.query(q);
  }

  /** The raw lines, for `audit verify` over the file itself. */
  auditLines(): string[] {
    return this.audit.lines();
  }

  async pruneAudit(beforeMs: number): Promise<number> {
    return this.audit.prune(beforeMs);
  }

  async close(): Promise<void> {
    this.audit.close();
    this.runs.close();
  }
}

function upsert<T>(list: T[], item: T, same: (x: T) => boolean): void {
  const i = list.findIndex(same);
  if (i < 0) list.push(item);
  else list[i] = item;
}
