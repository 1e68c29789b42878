/** The PostgreSQL store's audit log (migration 1's `audit` table): heads, batched appends, paged queries. */
import type pg from 'pg';
import type { AuditPage, AuditQuery, AuditRow } from './records.js';
import { auditRow } from './postgres-rows.js';

type Query = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

export class PgAudit {
  constructor(private readonly q: Query) {}

  async head(chain: string): Promise<{ seq: number; hash: string } | null> {
    const r = await this.q('SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1', [chain]);
    return r.rows[0] ? { seq: r.rows[0].seq as number, hash: r.rows[0].hash as string } : null;
  }

  async agentHead(machineId: string): Promise<{ seq: number; hash: string } | null> {
    const r = await this.q('SELECT agent_seq, body FROM audit WHERE machine_id = $1 AND agent_seq IS NOT NULL ORDER BY agent_seq DESC LIMIT 1', [machineId]);
    if (!r.rows[0]) return null;
    const inner = JSON.parse(r.rows[0].body as string) as { agent?: { hash: string } };
    return { seq: r.rows[0].agent_seq as number, hash: inner.agent?.hash ?? '' };
  }

  async append(rows: readonly AuditRow[]): Promise<void> {
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

  async query(q: AuditQuery): Promise<AuditPage> {
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

  async prune(beforeMs: number): Promise<number> {
    return (await this.q('DELETE FROM audit WHERE ts_ms < $1', [beforeMs])).rowCount ?? 0;
  }
}
