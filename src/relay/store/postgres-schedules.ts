/**
 * The PostgreSQL store's schedules and runs (migration 2). A schedule is one row holding its
 * record as jsonb; a run is one row, unique by (machine, seq), so an agent's batch that is sent
 * twice (its answer was lost) is stored once.
 */
import type pg from 'pg';
import { ConflictError } from '../../errors.js';
import type { RunPage, RunQuery, RunRecord, ScheduleRecord } from './records.js';

type Query = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

export const SCHEDULES_MIGRATION = `
  CREATE TABLE schedules (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    record jsonb NOT NULL
  );
  CREATE TABLE schedule_runs (
    pos bigserial PRIMARY KEY,
    machine_id text NOT NULL,
    seq bigint NOT NULL,
    schedule_id text NOT NULL,
    end_ms bigint NOT NULL,
    record jsonb NOT NULL,
    UNIQUE (machine_id, seq)
  );
  CREATE INDEX schedule_runs_schedule ON schedule_runs (schedule_id, pos);
  CREATE INDEX schedule_runs_end ON schedule_runs (end_ms);
`;

export class PgSchedules {
  constructor(private readonly q: Query) {}

  async list(): Promise<ScheduleRecord[]> {
    return (await this.q('SELECT record FROM schedules ORDER BY name')).rows.map((r) => r.record as ScheduleRecord);
  }

  async put(s: ScheduleRecord): Promise<void> {
    try {
      await this.q('INSERT INTO schedules (id, name, record) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = $2, record = $3', [s.id, s.name, JSON.stringify(s)]);
    } catch (err) {
      if (err instanceof ConflictError) throw new ConflictError(`a schedule is already called ${s.name}`);
      throw err;
    }
  }

  async delete(id: string): Promise<boolean> {
    return ((await this.q('DELETE FROM schedules WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async head(machineId: string): Promise<number> {
    return ((await this.q('SELECT coalesce(max(seq), 0) AS h FROM schedule_runs WHERE machine_id = $1', [machineId])).rows[0].h as number) ?? 0;
  }

  async append(machineId: string, runs: readonly RunRecord[]): Promise<number> {
    if (runs.length) {
      await this.q(
        `INSERT INTO schedule_runs (machine_id, seq, schedule_id, end_ms, record)
         SELECT $1, s.seq, s.schedule_id, s.end_ms, s.record FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::jsonb[]) WITH ORDINALITY AS s(seq, schedule_id, end_ms, record, n)
         ORDER BY s.n ON CONFLICT (machine_id, seq) DO NOTHING`,
        [machineId, runs.map((r) => r.seq), runs.map((r) => r.scheduleId), runs.map((r) => r.endMs), runs.map((r) => JSON.stringify({ ...r, machineId }))],
      );
    }
    return this.head(machineId);
  }

  async query(q: RunQuery): Promise<RunPage> {
    const where = ['pos > $1'];
    const p: unknown[] = [q.after ?? 0];
    if (q.scheduleId) where.push(`schedule_id = $${p.push(q.scheduleId)}`);
    if (q.machineId) where.push(`machine_id = $${p.push(q.machineId)}`);
    const r = await this.q(`SELECT pos, record FROM schedule_runs WHERE ${where.join(' AND ')} ORDER BY pos LIMIT $${p.push(q.limit)}`, p);
    const runs = r.rows.map((x) => ({ ...(x.record as RunRecord), pos: x.pos as number }));
    return { runs, next: runs.length ? runs[runs.length - 1]!.pos : (q.after ?? 0) };
  }

  async prune(beforeMs: number): Promise<number> {
    return (await this.q('DELETE FROM schedule_runs WHERE end_ms < $1', [beforeMs])).rowCount ?? 0;
  }
}
