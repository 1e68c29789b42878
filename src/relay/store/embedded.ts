/**
 * The embedded store (the default): records in a JSON state file with an append-only journal
 * beside it (state-file.ts), the audit log and schedule runs in append-only JSONL files. Why
 * files: a self-hoster backs them up with cp, reads them with jq, and the relay stays one binary
 * with no database server. One relay process owns the directory (its pid file says which).
 *
 * Every mutation is one method on one record: it builds the changed records, makes them durable,
 * and only then current, so a caller never sees a change that is not on disk. Its cost is the
 * records it changes, whatever the number of machines.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, AuthError } from '../../errors.js';
import type { AuditPage, AuditQuery, AuditRow, FleetRecord, KeyRecord, MachineRecord, MemberRecord, RunPage, RunQuery, RunRecord, ScheduleRecord, Snapshot, TokenRecord } from './records.js';
import type { EnrollResult, MachineTouch, RelayStore } from './store.js';
import { checkTokenUsable } from './rules.js';
import { AuditFile } from './audit-file.js';
import { RunsFile } from './runs-file.js';
import { StateFile } from './state-file.js';
import { pairKey, type Change, type Tables } from './tables.js';

const clone = <T>(v: T): T => structuredClone(v);

export class EmbeddedStore implements RelayStore {
  readonly path: string;
  readonly journalPath: string;
  readonly auditPath: string;
  readonly describe: string;
  private readonly state: StateFile;
  private readonly audit: AuditFile;
  private readonly runs: RunsFile;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, 'relay-state.json');
    this.journalPath = join(dir, 'relay-state.journal');
    this.auditPath = join(dir, 'audit.jsonl');
    this.describe = `embedded:${dir}`;
    this.state = new StateFile(this.path, this.journalPath);
    this.audit = new AuditFile(this.auditPath);
    this.runs = new RunsFile(join(dir, 'schedule-runs.jsonl'));
  }

  private get t(): Tables {
    return this.state.tables;
  }

  private commit(...changes: Change[]): Promise<void> {
    return this.state.commit(changes);
  }

  async snapshot(): Promise<Snapshot> {
    return clone(this.t.view());
  }

  async putKey(k: KeyRecord): Promise<void> {
    await this.commit({ t: 'keys', put: clone(k) });
  }

  async revokeKey(id: string): Promise<boolean> {
    const k = this.t.get('keys', id);
    if (!k) return false;
    await this.commit({ t: 'keys', put: { ...k, revoked: true } });
    return true;
  }

  async putToken(t: TokenRecord): Promise<void> {
    await this.commit({ t: 'tokens', put: clone(t) });
  }

  async revokeToken(id: string): Promise<boolean> {
    const t = this.t.get('tokens', id);
    if (!t) return false;
    await this.commit({ t: 'tokens', put: { ...t, revoked: true } });
    return true;
  }

  async enroll(tokenId: string, m: MachineRecord, nowMs: number): Promise<EnrollResult> {
    const old = this.t.get('tokens', tokenId);
    if (!old) throw new AuthError('invalid or revoked join token');
    checkTokenUsable(old, nowMs);
    const token = { ...old, usesLeft: old.usesLeft === null ? null : old.usesLeft - 1, uses: old.uses + 1 };
    const known = this.t.machineByPublicKey(m.publicKey);
    const machine = known ? { ...known, hostname: m.hostname, agentVersion: m.agentVersion, os: m.os, arch: m.arch } : clone(m);
    const changes: Change[] = [{ t: 'tokens', put: token }, { t: 'machines', put: machine }];
    if (token.fleetId && this.t.has('fleets', token.fleetId) && !this.t.has('fleetMachines', pairKey(token.fleetId, machine.id))) {
      changes.push({ t: 'fleetMachines', put: { fleetId: token.fleetId, machineId: machine.id } });
    }
    await this.commit(...changes);
    return { machine: clone(machine), token: clone(token), created: !known };
  }

  async putMachine(m: MachineRecord): Promise<void> {
    await this.commit({ t: 'machines', put: clone(m) });
  }

  async touchMachines(seen: ReadonlyArray<MachineTouch>): Promise<void> {
    const changes: Change[] = [];
    for (const s of seen) {
      const m = this.t.get('machines', s.id);
      if (!m) continue;
      const next = { ...m, lastSeenMs: Math.max(m.lastSeenMs, s.lastSeenMs), agentVersion: s.agentVersion || m.agentVersion };
      if (next.lastSeenMs !== m.lastSeenMs || next.agentVersion !== m.agentVersion) changes.push({ t: 'machines', put: next });
    }
    await this.commit(...changes);
  }

  async touchKeys(used: ReadonlyArray<{ id: string; lastUsedMs: number }>): Promise<void> {
    const changes: Change[] = [];
    for (const u of used) {
      const k = this.t.get('keys', u.id);
      if (k && u.lastUsedMs > k.lastUsedMs) changes.push({ t: 'keys', put: { ...k, lastUsedMs: u.lastUsedMs } });
    }
    await this.commit(...changes);
  }

  async putFleet(f: FleetRecord): Promise<void> {
    for (const x of this.t.values('fleets')) if (x.name === f.name && x.id !== f.id) throw new ConflictError(`a fleet is already called ${f.name}`);
    await this.commit({ t: 'fleets', put: clone(f) });
  }

  async attach(fleetId: string, machineId: string): Promise<void> {
    if (!this.t.has('fleets', fleetId)) throw new NotFoundError(`no fleet ${fleetId}`);
    if (this.t.has('fleetMachines', pairKey(fleetId, machineId))) return;
    await this.commit({ t: 'fleetMachines', put: { fleetId, machineId } });
  }

  async detach(fleetId: string, machineId: string): Promise<boolean> {
    const key = pairKey(fleetId, machineId);
    if (!this.t.has('fleetMachines', key)) return false;
    await this.commit({ t: 'fleetMachines', del: key });
    return true;
  }

  async putMember(m: MemberRecord): Promise<void> {
    if (!this.t.has('fleets', m.fleetId)) throw new NotFoundError(`no fleet ${m.fleetId}`);
    await this.commit({ t: 'members', put: clone(m) });
  }

  async removeMember(fleetId: string, keyId: string): Promise<boolean> {
    const key = pairKey(fleetId, keyId);
    if (!this.t.has('members', key)) return false;
    await this.commit({ t: 'members', del: key });
    return true;
  }

  async putSchedule(s: ScheduleRecord): Promise<void> {
    for (const x of this.t.values('schedules')) if (x.name === s.name && x.id !== s.id) throw new ConflictError(`a schedule is already called ${s.name}`);
    await this.commit({ t: 'schedules', put: clone(s) });
  }

  async deleteSchedule(id: string): Promise<boolean> {
    if (!this.t.has('schedules', id)) return false;
    await this.commit({ t: 'schedules', del: id });
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
    await this.state.close();
    this.audit.close();
    this.runs.close();
  }
}
