/**
 * The PostgreSQL store, with the `pg` client: the one several relay nodes share. Each method is
 * one statement or one transaction; a token is used up with a conditional UPDATE, so two nodes
 * enrolling with the last use of a token at once cannot both succeed. While the database is
 * unreachable every call fails with UnavailableError (detail `store_unavailable`); the pool
 * reconnects on the next call, so the relay recovers by itself.
 */
import pg from 'pg';
import { AuthError, CmdopError, ConflictError, NotFoundError, UnavailableError } from '../../errors.js';
import { MIGRATIONS } from './migrations.js';
import type { AuditPage, AuditQuery, AuditRow, FleetRecord, KeyRecord, MachineRecord, MemberRecord, RunPage, RunQuery, RunRecord, ScheduleRecord, Snapshot, TokenRecord } from './records.js';
import type { EnrollResult, MachineTouch, RelayStore } from './store.js';
import { checkTokenUsable } from './rules.js';
import { PgSchedules } from './postgres-schedules.js';
import { PgAudit } from './postgres-audit.js';
import { PgCluster } from './postgres-cluster.js';
import { fleetRow, keyRow, machineRow, tokenRow } from './postgres-rows.js';

const INT8 = 20;
const types = { getTypeParser: ((oid: number, format?: string) => (oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser };
/** Arbitrary but fixed: the advisory lock migrations run under. */
const MIGRATION_LOCK = 0x636d646f;

type Q = Pick<pg.PoolClient, 'query'>;

/** Maps driver failures to typed errors: a lost database is `unavailable`, a duplicate a conflict. */
function typed(err: unknown): Error {
  if (err instanceof CmdopError) return err;
  const e = err as { code?: string; message?: string };
  if (e.code === '23505') return new ConflictError('that record already exists', { cause: err });
  if (e.code === '23503') return new NotFoundError('a record it refers to does not exist', { cause: err });
  return new UnavailableError('the relay store (PostgreSQL) is unavailable', { cause: err, detail: 'store_unavailable' });
}

export class PostgresStore implements RelayStore {
  readonly describe: string;
  private readonly schedules = new PgSchedules((sql, params) => this.q(sql, params));
  private readonly audit = new PgAudit((sql, params) => this.q(sql, params));
  /** The tables relay nodes share (membership, presence) and single-record loads. */
  readonly cluster = new PgCluster((sql, params) => this.q(sql, params), (fn) => this.tx(fn));
  private constructor(private readonly pool: pg.Pool, readonly url: string) {
    const u = new URL(url);
    u.password = '';
    this.describe = u.toString();
  }

  /** Connects and applies the migrations this database lacks. */
  static async open(url: string, o: { max?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: o.max ?? 10, types, connectionTimeoutMillis: 5000 });
    // An idle connection dropped by a restarting server is not a crash: the next call reconnects.
    pool.on('error', () => undefined);
    const store = new PostgresStore(pool, url);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw typed(err);
    }
    return store;
  }

  /** The schema version this database is at. */
  async schemaVersion(): Promise<number> {
    const r = await this.q('SELECT coalesce(max(version), 0) AS v FROM schema_migrations');
    return r.rows[0].v as number;
  }

  private async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_ms bigint NOT NULL)');
      const have = (await c.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0].v as number;
      for (let v = have + 1; v <= MIGRATIONS.length; v++) {
        await c.query(MIGRATIONS[v - 1]!);
        await c.query('INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)', [v, Date.now()]);
      }
    });
  }

  private async q(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (err) {
      throw typed(err);
    }
  }

  private async tx<T>(fn: (c: Q) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw typed(err);
    }
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw typed(err);
    } finally {
      c.release();
    }
  }

  async snapshot(): Promise<Snapshot> {
    const [k, t, m, f, fm, mem] = await Promise.all([
      this.q('SELECT * FROM api_keys ORDER BY created_ms, id'),
      this.q('SELECT * FROM join_tokens ORDER BY created_ms, id'),
      this.q('SELECT * FROM machines ORDER BY enrolled_ms, id'),
      this.q('SELECT * FROM fleets ORDER BY created_ms, id'),
      this.q('SELECT fleet_id, machine_id FROM fleet_machines'),
      this.q('SELECT * FROM fleet_members'),
    ]);
    const schedules = await this.schedules.list();
    return {
      keys: k.rows.map(keyRow),
      tokens: t.rows.map(tokenRow),
      machines: m.rows.map(machineRow),
      fleets: f.rows.map(fleetRow),
      fleetMachines: fm.rows.map((r) => ({ fleetId: r.fleet_id as string, machineId: r.machine_id as string })),
      members: mem.rows.map((r) => ({ fleetId: r.fleet_id as string, keyId: r.key_id as string, role: r.role, addedMs: r.added_ms as number })),
      schedules,
    };
  }

  async putKey(k: KeyRecord): Promise<void> {
    await this.q(
      `INSERT INTO api_keys (id, name, hash, created_ms, expires_ms, revoked, last_used_ms, grants) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
       ON CONFLICT (id) DO UPDATE SET name=$2, expires_ms=$5, revoked=api_keys.revoked OR $6, last_used_ms=greatest(api_keys.last_used_ms, $7), grants=$8`,
      [k.id, k.name, k.hash, k.createdMs, k.expiresMs, k.revoked, k.lastUsedMs, JSON.stringify(k.grants)],
    );
  }

  async revokeKey(id: string): Promise<boolean> {
    return ((await this.q('UPDATE api_keys SET revoked = true WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async putToken(t: TokenRecord): Promise<void> {
    await this.q(
      `INSERT INTO join_tokens (id, hash, created_ms, expires_ms, uses_left, uses, labels, revoked, fleet_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
       ON CONFLICT (id) DO UPDATE SET revoked = join_tokens.revoked OR $8`,
      [t.id, t.hash, t.createdMs, t.expiresMs, t.usesLeft, t.uses, JSON.stringify(t.labels), t.revoked, t.fleetId],
    );
  }

  async revokeToken(id: string): Promise<boolean> {
    return ((await this.q('UPDATE join_tokens SET revoked = true WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  /**
   * One statement, so the token's row lock is held only while PostgreSQL runs it and commits,
   * never across a round trip to a busy relay: a herd of enrolments on one token queues on that
   * row, and with a transaction of several statements each one held it for as long as the relay
   * took to send the next (the 4,000-agent herd over three nodes had 28 waiting on it).
   */
  async enroll(tokenId: string, m: MachineRecord, nowMs: number): Promise<EnrollResult> {
    const r = await this.q(
      `WITH t AS (
         UPDATE join_tokens SET uses = uses + 1, uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END
         WHERE id = $1 AND NOT revoked AND expires_ms > $2 AND (uses_left IS NULL OR uses_left > 0) RETURNING *
       ), m AS (
         INSERT INTO machines (id, hostname, name, labels, public_key, agent_version, os, arch, enrolled_ms, last_seen_ms, disabled)
         SELECT $3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13 FROM t
         ON CONFLICT (public_key) DO UPDATE SET hostname=$4, agent_version=$8, os=$9, arch=$10
         RETURNING *, (xmax = 0) AS created
       ), f AS (
         INSERT INTO fleet_machines (fleet_id, machine_id) SELECT t.fleet_id, m.id FROM t, m
         WHERE t.fleet_id IS NOT NULL AND EXISTS (SELECT 1 FROM fleets WHERE id = t.fleet_id) ON CONFLICT DO NOTHING
       )
       SELECT to_jsonb(t) AS token, to_jsonb(m) AS machine FROM t, m`,
      [tokenId, nowMs, m.id, m.hostname, m.name, JSON.stringify(m.labels), m.publicKey, m.agentVersion, m.os, m.arch, m.enrolledMs, m.lastSeenMs, m.disabled],
    );
    const row = r.rows[0] as { token: Record<string, unknown>; machine: Record<string, unknown> } | undefined;
    if (!row) {
      const t = (await this.q('SELECT * FROM join_tokens WHERE id = $1', [tokenId])).rows[0];
      if (!t) throw new AuthError('invalid or revoked join token');
      checkTokenUsable(tokenRow(t), nowMs);
      throw new AuthError('join token already used up');
    }
    return { machine: machineRow(row.machine), token: tokenRow(row.token), created: row.machine.created as boolean };
  }

  async putMachine(m: MachineRecord): Promise<void> {
    await this.q(
      `INSERT INTO machines (id, hostname, name, labels, public_key, agent_version, os, arch, enrolled_ms, last_seen_ms, disabled)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
       ON CONFLICT (id) DO UPDATE SET hostname=$2, name=$3, labels=$4, agent_version=$6, os=$7, arch=$8, last_seen_ms=greatest(machines.last_seen_ms, $10), disabled=$11`,
      [m.id, m.hostname, m.name, JSON.stringify(m.labels), m.publicKey, m.agentVersion, m.os, m.arch, m.enrolledMs, m.lastSeenMs, m.disabled],
    );
  }

  async touchMachines(seen: ReadonlyArray<MachineTouch>): Promise<void> {
    if (seen.length === 0) return;
    await this.q(
      `UPDATE machines SET last_seen_ms = greatest(machines.last_seen_ms, s.t), agent_version = coalesce(nullif(s.v, ''), machines.agent_version)
       FROM unnest($1::text[], $2::bigint[], $3::text[]) AS s(id, t, v) WHERE machines.id = s.id`,
      [seen.map((s) => s.id), seen.map((s) => s.lastSeenMs), seen.map((s) => s.agentVersion)],
    );
  }

  async touchKeys(used: ReadonlyArray<{ id: string; lastUsedMs: number }>): Promise<void> {
    if (used.length === 0) return;
    await this.q(`UPDATE api_keys SET last_used_ms = greatest(api_keys.last_used_ms, s.t) FROM unnest($1::text[], $2::bigint[]) AS s(id, t) WHERE api_keys.id = s.id`, [used.map((u) => u.id), used.map((u) => u.lastUsedMs)]);
  }

  async putFleet(f: FleetRecord): Promise<void> {
    try {
      await this.q(
        `INSERT INTO fleets (id, name, description, selector, disabled, created_ms, updated_ms) VALUES ($1,$2,$3,$4,$5,$6,$7)
         ON CONFLICT (id) DO UPDATE SET name=$2, description=$3, selector=$4, disabled=$5, updated_ms=$7`,
        [f.id, f.name, f.description, f.selector, f.disabled, f.createdMs, f.updatedMs],
      );
    } catch (err) {
      if (err instanceof ConflictError) throw new ConflictError(`a fleet is already called ${f.name}`);
      throw err;
    }
  }

  async attach(fleetId: string, machineId: string): Promise<void> {
    try {
      await this.q('INSERT INTO fleet_machines (fleet_id, machine_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [fleetId, machineId]);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`no fleet ${fleetId} or machine ${machineId}`);
      throw err;
    }
  }

  async detach(fleetId: string, machineId: string): Promise<boolean> {
    return ((await this.q('DELETE FROM fleet_machines WHERE fleet_id = $1 AND machine_id = $2', [fleetId, machineId])).rowCount ?? 0) > 0;
  }

  async putMember(m: MemberRecord): Promise<void> {
    try {
      await this.q('INSERT INTO fleet_members (fleet_id, key_id, role, added_ms) VALUES ($1,$2,$3,$4) ON CONFLICT (fleet_id, key_id) DO UPDATE SET role = $3', [m.fleetId, m.keyId, m.role, m.addedMs]);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`no fleet ${m.fleetId} or key ${m.keyId}`);
      throw err;
    }
  }

  async removeMember(fleetId: string, keyId: string): Promise<boolean> {
    return ((await this.q('DELETE FROM fleet_members WHERE fleet_id = $1 AND key_id = $2', [fleetId, keyId])).rowCount ?? 0) > 0;
  }

  putSchedule(s: ScheduleRecord): Promise<void> {
    return this.schedules.put(s);
  }
  deleteSchedule(id: string): Promise<boolean> {
    return this.schedules.delete(id);
  }
  runsHead(machineId: string): Promise<number> {
    return this.schedules.head(machineId);
  }
  appendRuns(machineId: string, runs: readonly RunRecord[]): Promise<number> {
    return this.schedules.append(machineId, runs);
  }
  queryRuns(q: RunQuery): Promise<RunPage> {
    return this.schedules.query(q);
  }
  pruneRuns(beforeMs: number): Promise<number> {
    return this.schedules.prune(beforeMs);
  }

  auditHead(chain: string): Promise<{ seq: number; hash: string } | null> {
    return this.audit.head(chain);
  }
  agentAuditHead(machineId: string): Promise<{ seq: number; hash: string } | null> {
    return this.audit.agentHead(machineId);
  }
  appendAudit(rows: readonly AuditRow[]): Promise<void> {
    return this.audit.append(rows);
  }
  queryAudit(q: AuditQuery): Promise<AuditPage> {
    return this.audit.query(q);
  }
  pruneAudit(beforeMs: number): Promise<number> {
    return this.audit.prune(beforeMs);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
