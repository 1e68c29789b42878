/**
 * RelayStore: the relay's durable state, one method per change to one record. Two
 * implementations: embedded (a JSON file + a JSONL audit log; the default, no database) and
 * PostgreSQL (shared by several relay nodes). Each security-relevant change is one call that
 * either took effect durably or threw; callers change their in-memory view only after it returns.
 */
import type { AuditPage, AuditQuery, AuditRow, FleetRecord, KeyRecord, MachineRecord, MemberRecord, RunPage, RunQuery, RunRecord, ScheduleRecord, Snapshot, TokenRecord } from './records.js';

export interface MachineTouch { id: string; lastSeenMs: number; agentVersion: string }

export interface EnrollResult { machine: MachineRecord; token: TokenRecord; created: boolean }

export interface RelayStore {
  /** What the store is, for logs: `embedded:<dir>` or `postgres://host/db` (never a password). */
  readonly describe: string;
  /** Every record but the audit log. */
  snapshot(): Promise<Snapshot>;

  putKey(k: KeyRecord): Promise<void>;
  /** Marks a key revoked; false if there is no such key. */
  revokeKey(id: string): Promise<boolean>;
  putToken(t: TokenRecord): Promise<void>;
  revokeToken(id: string): Promise<boolean>;
  /**
   * In one transaction: uses the token once (refused if revoked, expired or used up, even when
   * another relay node uses it at the same moment), adds or updates the machine with this public
   * key, and attaches it to the token's fleet.
   */
  enroll(tokenId: string, m: MachineRecord, nowMs: number): Promise<EnrollResult>;
  putMachine(m: MachineRecord): Promise<void>;
  /**
   * Last-seen times and agent versions, batched; losing one costs nothing. Touches only those
   * fields, so a background save can never undo a security change (a disable) made meanwhile.
   */
  touchMachines(seen: ReadonlyArray<MachineTouch>): Promise<void>;
  /** Last-used times of keys, batched, the same way (never a key's revocation or grants). */
  touchKeys(used: ReadonlyArray<{ id: string; lastUsedMs: number }>): Promise<void>;

  putFleet(f: FleetRecord): Promise<void>;
  attach(fleetId: string, machineId: string): Promise<void>;
  detach(fleetId: string, machineId: string): Promise<boolean>;
  putMember(m: MemberRecord): Promise<void>;
  removeMember(fleetId: string, keyId: string): Promise<boolean>;

  putSchedule(s: ScheduleRecord): Promise<void>;
  deleteSchedule(id: string): Promise<boolean>;
  /** The last run number stored for a machine (its agent uploads what follows). */
  runsHead(machineId: string): Promise<number>;
  /**
   * Stores a machine's runs that follow its head, in order, in one step, and returns the new
   * head: a batch sent twice (a lost answer) is stored once.
   */
  appendRuns(machineId: string, runs: readonly RunRecord[]): Promise<number>;
  queryRuns(q: RunQuery): Promise<RunPage>;
  /** Deletes runs that ended before `beforeMs`; returns how many. */
  pruneRuns(beforeMs: number): Promise<number>;

  /** The last record of a chain, to continue it. */
  auditHead(chain: string): Promise<{ seq: number; hash: string } | null>;
  /** The last agent record stored for a machine (its upload resumes after it). */
  agentAuditHead(machineId: string): Promise<{ seq: number; hash: string } | null>;
  /** Appends rows that continue their chains; a duplicate (chain, seq) is refused as a whole. */
  appendAudit(rows: readonly AuditRow[]): Promise<void>;
  queryAudit(q: AuditQuery): Promise<AuditPage>;
  /** Deletes records older than `beforeMs`; returns how many. */
  pruneAudit(beforeMs: number): Promise<number>;

  close(): Promise<void>;
}
