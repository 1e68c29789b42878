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

const keyRow = (r: Record<string, unknown>): KeyRecord => ({ id: r.id as string, name: r.name as string, hash: r.hash as string, createdMs: r.created_ms as number, expiresMs: (r.expires_ms as number | null) ?? null, revoked: r.revoked as boolean, lastUsedMs: r.last_used_ms as number, grants: r.grants as KeyRecord['grants'] });
const tokenRow = (r: Record<string, unknown>): TokenRecord => ({ id: r.id as string, hash: r.hash as string, createdMs: r.created_ms as number, expiresMs: r.expires_ms as number, usesLeft: (r.uses_left as number | null) ?? null, uses: r.uses as number, labels: r.labels as Record<string, string>, revoked: r.revoked as boolean, fleetId: r.fleet_id as string });
const machineRow = (r: Record<string, unknown>): MachineRecord => ({ id: r.id as string, hostname: r.hostname as string, name: r.name as string, labels: r.labels as Record<string, string>, publicKey: r.public_key as string, agentVersion: r.agent_version as string, os: r.os as string, arch: r.arch as string, enrolledMs: r.enrolled_ms as number, lastSeenMs: r.last_seen_ms as number, disabled: r.disabled as boolean });
const fleetRow = (r: Record<string, unknown>): FleetRecord => ({ id: r.id as string, name: r.name as string, description: r.description as string, selector: r.selector as string, disabled: r.disabled as boolean, createdMs: r.created_ms as number, updatedMs: r.updated_ms as number });
const auditRow = (r: Record<string, unknown>): AuditRow & { pos: number } => ({ pos: r.pos as number, chain: r.chain as string, seq: r.seq as number, tsMs: r.ts_ms as number, type: r.type as string, keyId: r.key_id as string, machineId: r.machine_id as string, body: r.body as string, prev: r.prev as string, hash: r.hash as string, sig: r.sig as string, agentSeq: (r.agent_seq as number | null) ?? null });

export class PostgresStore implements RelayStore {
  readonly describe: string;
  private readonly schedules = new PgSchedules((sql, params) => this.q(sql, params));
  private constructor(private readonly pool: pg.Pool, url: string) {
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

  async enroll(tokenId: string, m: MachineRecord, nowMs: number): Promise<EnrollResult> {
    return this.tx(async (c) => {
      const used = await c.query(
        `UPDATE join_tokens SET uses = uses + 1, uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END
         WHERE id = $1 AND NOT revoked AND expires_ms > $2 AND (uses_left IS NULL OR uses_left > 0) RETURNING *`,
        [tokenId, nowMs],
      );
      if (used.rowCount === 0) {
        const t = (await c.query('SELECT * FROM join_tokens WHERE id = $1', [tokenId])).rows[0];
        if (!t) throw new AuthError('invalid or revoked join token');
        checkTokenUsable(tokenRow(t), nowMs);
        throw new AuthError('join token already used up');
      }
      const token = tokenRow(used.rows[0]);
      const r = await c.query(
        `INSERT INTO machines (id, hostname, name, labels, public_key, agent_version, os, arch, enrolled_ms, last_seen_ms, disabled)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
         ON CONFLICT (public_key) DO UPDATE SET hostname=$2, agent_version=$6, os=$7, arch=$8
         RETURNING *, (xmax = 0) AS created`,
        [m.id, m.hostname, m.name, JSON.stringify(m.labels), m.publicKey, m.agentVersion, m.os, m.arch, m.enrolledMs, m.lastSeenMs, m.disabled],
      );
      const machine = machineRow(r.rows[0]);
      if (token.fleetId) {
        await c.query('INSERT INTO fleet_machines (fleet_id, machine_id) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM fleets WHERE id = $1) ON CONFLICT DO NOTHING', [token.fleetId, machine.id]);
      }
      return { machine, token, created: r.rows[0].created as boolean };
    });
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

  async auditHead(chain: string): Promise<{ seq: number; hash: string } | null> {
    const r = await this.q('SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1', [chain]);
    return r.rows[0] ? { seq: r.rows[0].seq as number, hash: r.rows[0].hash as string } : null;
  }

  async agentAuditHead(machineId: string): Promise<{ seq: number; hash: string } | null> {
    const r = await this.q('SELECT agent_seq, body FROM audit WHERE machine_id = $1 AND agent_seq IS NOT NULL ORDER BY agent_seq DESC LIMIT 1', [machineId]);
    if (!r.rows[0]) return null;
    const inner = JSON.parse(r.rows[0].body as string) as { agent?: { hash: string } };
    return { seq: r.rows[0].agent_seq as number, hash: inner.agent?.hash ?? '' };
  }

  async appendAudit(rows: readonly AuditRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols = ['chain', 'seq', 'ts_ms', 'type', 'key_id', 'machine_id', 'body', 'prev', 'hash', 'sig', 'agent_seq'] as const;
    const arrays = cols.map(() => [] as unknown[]);
    for (const r of rows) [r.chain, r.seq, r.tsMs, r.type, r.keyId, r.machineId, r.body, r.prev, r.hash, r.sig, r.agentSeq].forEach((v, i) => arrays[i]!.push(v));
    // One statement: every row or none (a duplicate (chain, seq) is a conflict).
    await this.q(
      `INSERT INTO audit (${cols.join(', ')}) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])`,
      arrays,
    );
  }

  async queryAudit(q: AuditQuery): Promise<AuditPage> {
    const where: string[] = [];
    const p: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      p.push(v);
      where.push(sql.replace('?', `$${p.length}`));
    };
    if (q.after !== undefined) add('pos > ?', q.after);
    if (q.sinceMs !== undefined) add('ts_ms >= ?', q.sinceMs);
    if (q.untilMs !== undefined) add('ts_ms < ?', q.untilMs);
    if (q.machineId) add('machine_id = ?', q.machineId);
    if (q.keyId) add('key_id = ?', q.keyId);
    if (q.chain) add('chain = ?', q.chain);
    if (q.type?.endsWith('.*')) add('starts_with(type, ?)', q.type.slice(0, -1));
    else if (q.type) add('type = ?', q.type);
    p.push(q.limit);
    const r = await this.q(`SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY pos LIMIT $${p.length}`, p);
    const rows = r.rows.map(auditRow);
    return { rows, next: rows.length ? rows[rows.length - 1]!.pos : (q.after ?? 0) };
  }

  async pruneAudit(beforeMs: number): Promise<number> {
    return (await this.q('DELETE FROM audit WHERE ts_ms < $1', [beforeMs])).rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
