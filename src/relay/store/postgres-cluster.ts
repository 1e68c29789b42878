/**
 * The PostgreSQL tables several relay nodes share beyond the records (migration 3):
 *
 * - `relay_nodes`: one row per live node, its heartbeat stamped with the database's clock (so
 *   nodes' clocks never have to agree). A node whose heartbeat is older than the dead bound is
 *   deleted by whichever node notices first, and its presence rows go with it.
 * - `presence`: one row per (machine, node) whose agent link that node holds, with an epoch from
 *   one sequence. A node only ever writes and deletes its own rows, and deletes one only with the
 *   epoch it wrote, so a late "disconnected" from an old node can never erase a newer "connected"
 *   elsewhere; where two rows exist, the higher epoch holds the machine.
 * - Triggers NOTIFY `cmdop_changes` with `table:id` after every change to a record that can
 *   change who may do what (never a last-seen or last-used time), in the writing transaction.
 *   Presence changes go on `cmdop_presence`, sent by the node that wrote them in the same
 *   transaction. Notifications carry ids, never a secret or its hash.
 */
import type pg from 'pg';
import type { KeyRecord, MachineRecord, TokenRecord } from './records.js';
import { keyRow, machineRow, tokenRow } from './postgres-rows.js';

type Query = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;
type Tx = <T>(fn: (c: Pick<pg.PoolClient, 'query'>) => Promise<T>) => Promise<T>;

export const CHANGES_CHANNEL = 'cmdop_changes';
export const PRESENCE_CHANNEL = 'cmdop_presence';
/** Rows per presence notification: the payload stays far below PostgreSQL's 8000-byte cap. */
const PRESENCE_CHUNK = 100;

const trigger = (table: string, col: string, columns = '') =>
  `CREATE TRIGGER ${table}_changed AFTER INSERT OR DELETE OR UPDATE${columns ? ` OF ${columns}` : ''} ON ${table} FOR EACH ROW EXECUTE FUNCTION cmdop_changed('${col}');`;

export const CLUSTER_MIGRATION = `
  CREATE TABLE relay_nodes (
    id text PRIMARY KEY,
    address text NOT NULL,
    public_url text NOT NULL,
    started_ms bigint NOT NULL,
    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    draining boolean NOT NULL DEFAULT false,
    agents integer NOT NULL DEFAULT 0
  );
  CREATE TABLE presence (
    machine_id text NOT NULL,
    node_id text NOT NULL REFERENCES relay_nodes(id) ON DELETE CASCADE,
    epoch bigint NOT NULL,
    since_ms bigint NOT NULL,
    PRIMARY KEY (machine_id, node_id)
  );
  CREATE INDEX presence_node ON presence (node_id);
  CREATE SEQUENCE presence_epoch;
  CREATE FUNCTION cmdop_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE r jsonb;
  BEGIN
    IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF;
    PERFORM pg_notify('${CHANGES_CHANNEL}', TG_TABLE_NAME || ':' || (r ->> TG_ARGV[0]));
    RETURN NULL;
  END $$;
  ${trigger('api_keys', 'id', 'name, expires_ms, revoked, grants')}
  ${trigger('join_tokens', 'id')}
  ${trigger('machines', 'id', 'hostname, name, labels, public_key, disabled')}
  ${trigger('fleets', 'id')}
  ${trigger('fleet_machines', 'fleet_id')}
  ${trigger('fleet_members', 'fleet_id')}
  ${trigger('schedules', 'id')}
`;

export interface NodeRow {
  id: string;
  address: string;
  publicUrl: string;
  startedMs: number;
  /** Milliseconds since its last heartbeat, by the database's clock. */
  ageMs: number;
  draining: boolean;
  agents: number;
}

/** What one presence notification says: rows added (`up`) or removed (`down`) by one node, or a node reaped. */
export type PresenceNote = { node: string; up: Array<[string, number, number]> } | { node: string; down: Array<[string, number]> } | { node: string; dead: true };

export interface PresenceRow { machineId: string; nodeId: string; epoch: number; sinceMs: number }

const nodeRow = (r: Record<string, unknown>): NodeRow => ({ id: r.id as string, address: r.address as string, publicUrl: r.public_url as string, startedMs: r.started_ms as number, ageMs: Math.round(Number(r.age_ms)), draining: r.draining as boolean, agents: r.agents as number });

export class PgCluster {
  constructor(private readonly q: Query, private readonly tx: Tx) {}

  /** Registers (or re-registers) a node; its old presence rows, if any, are dropped. */
  async register(n: { id: string; address: string; publicUrl: string; startedMs: number }): Promise<void> {
    await this.tx(async (c) => {
      await c.query('DELETE FROM presence WHERE node_id = $1', [n.id]);
      await c.query(
        `INSERT INTO relay_nodes (id, address, public_url, started_ms) VALUES ($1,$2,$3,$4)
         ON CONFLICT (id) DO UPDATE SET address=$2, public_url=$3, started_ms=$4, heartbeat_at=clock_timestamp(), draining=false`,
        [n.id, n.address, n.publicUrl, n.startedMs],
      );
    });
  }

  /** Stamps the node's heartbeat; null if the node was reaped meanwhile (it must register again). */
  async heartbeat(id: string, agents: number): Promise<{ draining: boolean } | null> {
    const r = await this.q('UPDATE relay_nodes SET heartbeat_at = clock_timestamp(), agents = $2 WHERE id = $1 RETURNING draining', [id, agents]);
    return r.rows[0] ? { draining: r.rows[0].draining as boolean } : null;
  }

  /** Deletes the nodes silent for longer than `deadMs` (and their presence); returns their ids. */
  async reap(deadMs: number): Promise<string[]> {
    return this.tx(async (c) => {
      const r = await c.query(`DELETE FROM relay_nodes WHERE heartbeat_at < clock_timestamp() - $1 * interval '1 millisecond' RETURNING id`, [deadMs]);
      const ids = r.rows.map((x) => x.id as string);
      for (const node of ids) await c.query('SELECT pg_notify($1, $2)', [PRESENCE_CHANNEL, JSON.stringify({ node, dead: true })]);
      return ids;
    });
  }

  async leave(id: string): Promise<void> {
    await this.tx(async (c) => {
      await c.query('DELETE FROM relay_nodes WHERE id = $1', [id]);
      await c.query('SELECT pg_notify($1, $2)', [PRESENCE_CHANNEL, JSON.stringify({ node: id, dead: true })]);
    });
  }

  async nodes(): Promise<NodeRow[]> {
    const r = await this.q(`SELECT *, extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000 AS age_ms FROM relay_nodes ORDER BY started_ms, id`);
    return r.rows.map(nodeRow);
  }

  /** Marks a node draining (or not); false if there is no such node. */
  async setDraining(id: string, draining: boolean): Promise<boolean> {
    return ((await this.q('UPDATE relay_nodes SET draining = $2 WHERE id = $1', [id, draining])).rowCount ?? 0) > 0;
  }

  /** Writes this node's rows for machines whose links came up; returns each one's epoch. */
  async up(node: string, machines: readonly string[], sinceMs: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (machines.length === 0) return out;
    await this.tx(async (c) => {
      for (let i = 0; i < machines.length; i += PRESENCE_CHUNK) {
        const ids = machines.slice(i, i + PRESENCE_CHUNK);
        const r = await c.query(
          `INSERT INTO presence (machine_id, node_id, epoch, since_ms) SELECT m, $2, nextval('presence_epoch'), $3 FROM unnest($1::text[]) AS m
           ON CONFLICT (machine_id, node_id) DO UPDATE SET epoch = EXCLUDED.epoch, since_ms = EXCLUDED.since_ms RETURNING machine_id, epoch`,
          [ids, node, sinceMs],
        );
        const up: Array<[string, number, number]> = r.rows.map((x) => [x.machine_id as string, x.epoch as number, sinceMs]);
        for (const [m, e] of up) out.set(m, e);
        await c.query('SELECT pg_notify($1, $2)', [PRESENCE_CHANNEL, JSON.stringify({ node, up })]);
      }
    });
    return out;
  }

  /** Deletes this node's rows for machines whose links went down, each only at the epoch it wrote. */
  async down(node: string, rows: ReadonlyArray<[string, number]>): Promise<void> {
    if (rows.length === 0) return;
    await this.tx(async (c) => {
      for (let i = 0; i < rows.length; i += PRESENCE_CHUNK) {
        const chunk = rows.slice(i, i + PRESENCE_CHUNK);
        await c.query(
          'DELETE FROM presence p USING unnest($1::text[], $2::bigint[]) AS d(m, e) WHERE p.node_id = $3 AND p.machine_id = d.m AND p.epoch = d.e',
          [chunk.map((r) => r[0]), chunk.map((r) => r[1]), node],
        );
        await c.query('SELECT pg_notify($1, $2)', [PRESENCE_CHANNEL, JSON.stringify({ node, down: chunk })]);
      }
    });
  }

  /** Every presence row of a live node (a resync). */
  async presence(): Promise<PresenceRow[]> {
    const r = await this.q('SELECT machine_id, node_id, epoch, since_ms FROM presence');
    return r.rows.map((x) => ({ machineId: x.machine_id as string, nodeId: x.node_id as string, epoch: x.epoch as number, sinceMs: x.since_ms as number }));
  }

  async key(id: string): Promise<KeyRecord | null> {
    return (await this.keys([id]))[0] ?? null;
  }

  async machine(id: string): Promise<MachineRecord | null> {
    return (await this.machines([id]))[0] ?? null;
  }

  async token(id: string): Promise<TokenRecord | null> {
    return (await this.tokens([id]))[0] ?? null;
  }

  /** The records with these ids that exist (a batch of notifications, in one query). */
  async keys(ids: readonly string[]): Promise<KeyRecord[]> {
    return (await this.q('SELECT * FROM api_keys WHERE id = ANY($1::text[])', [ids])).rows.map(keyRow);
  }

  async machines(ids: readonly string[]): Promise<MachineRecord[]> {
    return (await this.q('SELECT * FROM machines WHERE id = ANY($1::text[])', [ids])).rows.map(machineRow);
  }

  async tokens(ids: readonly string[]): Promise<TokenRecord[]> {
    return (await this.q('SELECT * FROM join_tokens WHERE id = ANY($1::text[])', [ids])).rows.map(tokenRow);
  }
}
