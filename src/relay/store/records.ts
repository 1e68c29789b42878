/**
 * The relay's records, one type per table. Plain JSON-able objects: the embedded store writes
 * them to a file as they are, PostgreSQL maps each to one row.
 */
import type { Capability, FleetRole } from '../../control/capabilities.js';
import type { ScheduleRecord } from '../../control/schedules/spec.js';

export type { ScheduleRecord } from '../../control/schedules/spec.js';

/** Which machines a grant reaches. */
export type Reach = { on: 'all' } | { on: 'fleets'; ids: string[] } | { on: 'machines'; ids: string[] } | { on: 'selector'; selector: string };
export type Grant = Reach & { caps: Capability[] };

export interface KeyRecord {
  id: string;
  name: string;
  /** hex SHA-256 of the secret part; the secret itself is never stored. */
  hash: string;
  createdMs: number;
  /** null = never expires. */
  expiresMs: number | null;
  revoked: boolean;
  lastUsedMs: number;
  grants: Grant[];
}

export interface TokenRecord {
  id: string;
  hash: string;
  createdMs: number;
  expiresMs: number;
  /** Enrolments still allowed; null = unlimited until expiry. */
  usesLeft: number | null;
  uses: number;
  labels: Record<string, string>;
  revoked: boolean;
  /** A fleet the enrolled machine is attached to ('' = none). */
  fleetId: string;
}

export interface MachineRecord {
  id: string;
  hostname: string;
  name: string;
  labels: Record<string, string>;
  /** Ed25519 public key, SPKI DER, base64. Public only: a stolen store cannot sign. */
  publicKey: string;
  agentVersion: string;
  os: string;
  arch: string;
  enrolledMs: number;
  lastSeenMs: number;
  disabled: boolean;
}

export interface FleetRecord {
  id: string;
  name: string;
  description: string;
  /** Machines whose labels match join on their own ('' = only attached machines). */
  selector: string;
  disabled: boolean;
  createdMs: number;
  updatedMs: number;
}

export interface FleetMachine { fleetId: string; machineId: string }
export interface MemberRecord { fleetId: string; keyId: string; role: FleetRole; addedMs: number }

/** Everything but the audit log: what a relay node holds in memory to answer from. */
export interface Snapshot {
  keys: KeyRecord[];
  tokens: TokenRecord[];
  machines: MachineRecord[];
  fleets: FleetRecord[];
  fleetMachines: FleetMachine[];
  members: MemberRecord[];
  schedules: ScheduleRecord[];
}

export function emptySnapshot(): Snapshot {
  return { keys: [], tokens: [], machines: [], fleets: [], fleetMachines: [], members: [], schedules: [] };
}

export type RunStatus = 'ok' | 'failed' | 'timeout' | 'skipped' | 'missed' | 'error';
export type RunCause = 'clock' | 'manual' | 'catchup';

/** One run of a schedule on one machine, as its agent reported it (seq: the agent's run number). */
export interface RunRecord {
  scheduleId: string;
  machineId: string;
  seq: number;
  slotMs: number;
  startMs: number;
  endMs: number;
  status: RunStatus;
  exitCode: number;
  outputHead: string;
  outputTail: string;
  outputBytes: number;
  reason: string;
  cause: RunCause;
  lateMs: number;
  /** For a `missed` record: how many slots it stands for. */
  missedCount: number;
}

export interface RunQuery {
  scheduleId?: string;
  machineId?: string;
  /** Runs after this store position (an opaque cursor). */
  after?: number;
  limit: number;
}

export interface RunPage { runs: (RunRecord & { pos: number })[]; next: number }

/**
 * One stored audit record: a link in its writer's chain. `body` is the canonical JSON text the
 * hash covers, kept as text so a store that reorders JSON keys cannot break verification.
 */
export interface AuditRow {
  /** Whose chain: `relay:<node>` for a relay's own records. */
  chain: string;
  seq: number;
  tsMs: number;
  type: string;
  keyId: string;
  machineId: string;
  body: string;
  prev: string;
  hash: string;
  sig: string;
  /** For an agent's record carried in the relay's chain: its place in the agent's own chain. */
  agentSeq: number | null;
}

export interface AuditQuery {
  sinceMs?: number;
  untilMs?: number;
  machineId?: string;
  keyId?: string;
  type?: string;
  chain?: string;
  /** Rows after this (chain, seq) position in store order: an opaque cursor. */
  after?: number;
  limit: number;
}

/** A row with its position in store order (the cursor of the next page). */
export interface AuditPage { rows: (AuditRow & { pos: number })[]; next: number }
