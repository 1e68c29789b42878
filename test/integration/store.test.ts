/**
 * One suite, both stores: the embedded files and a real PostgreSQL (Debian's, a throwaway
 * unprivileged cluster). Then PostgreSQL restarted under a running relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { EmbeddedStore } from '../../src/relay/store/embedded.js';
import { PostgresStore } from '../../src/relay/store/postgres.js';
import type { RelayStore } from '../../src/relay/store/store.js';
import type { AuditRow, MachineRecord, TokenRecord } from '../../src/relay/store/records.js';
import { startPostgres, type Postgres } from '../bench/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { startCluster } from '../helpers/cluster.js';
import { UnavailableError } from '../../src/errors.js';

let pg: Postgres;
const tmp = tempDir();
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => {
  pg?.stop();
  tmp.cleanup();
});

const token = (o: Partial<TokenRecord> = {}): TokenRecord => ({ id: randomUUID().slice(0, 16), hash: 'h', createdMs: 1, expiresMs: Date.now() + 60_000, usesLeft: 1, uses: 0, labels: {}, revoked: false, fleetId: '', ...o });
const machine = (o: Partial<MachineRecord> = {}): MachineRecord => ({ id: randomUUID(), hostname: 'h', name: 'h', labels: {}, publicKey: randomUUID(), agentVersion: 'v', os: 'linux', arch: 'x64', enrolledMs: 1, lastSeenMs: 1, disabled: false, ...o });
const row = (chain: string, seq: number, o: Partial<AuditRow> = {}): AuditRow => ({ chain, seq, tsMs: seq * 10, type: 't', keyId: 'k', machineId: '', body: '{}', prev: '', hash: `h${seq}`, sig: 's', agentSeq: null, ...o });

const stores: Array<[string, () => Promise<RelayStore>]> = [
  ['embedded', async () => new EmbeddedStore(join(tmp.dir, randomUUID()))],
  ['postgres', async () => {
    // A database of its own per case, so the cases do not see each other's rows.
    const db = `t_${randomUUID().replaceAll('-', '')}`;
    const admin = await PostgresStore.open(pg.url);
    await (admin as unknown as { q(sql: string): Promise<unknown> }).q(`CREATE DATABASE ${db}`);
    await admin.close();
    return PostgresStore.open(pg.url.replace(/\/postgres$/, `/${db}`));
  }],
];

describe.each(stores)('RelayStore (%s)', (_name, open) => {
  it('keeps records by id and revokes one', async () => {
    const s = await open();
    await s.putKey({ id: 'k1', name: 'n', hash: 'x', createdMs: 1, expiresMs: null, revoked: false, lastUsedMs: 0, grants: [{ on: 'all', caps: ['info'] }] });
    expect(await s.revokeKey('k1')).toBe(true);
    expect(await s.revokeKey('nope')).toBe(false);
    const snap = await s.snapshot();
    expect(snap.keys).toEqual([{ id: 'k1', name: 'n', hash: 'x', createdMs: 1, expiresMs: null, revoked: true, lastUsedMs: 0, grants: [{ on: 'all', caps: ['info'] }] }]);
    await s.close();
  });

  it('pages through a long log exactly once, from any cursor', async () => {
    const s = await open();
    const all = Array.from({ length: 1500 }, (_v, i) => row('relay:p', i + 1));
    for (let i = 0; i < all.length; i += 250) await s.appendAudit(all.slice(i, i + 250));
    const seen: number[] = [];
    for (let after = 0; ; ) {
      const p = await s.queryAudit({ after, limit: 333 });
      if (p.rows.length === 0) break;
      seen.push(...p.rows.map((r) => r.seq));
      after = p.next;
    }
    expect(seen).toEqual(all.map((r) => r.seq));
    const mid = await s.queryAudit({ limit: 1000 });
    expect((await s.queryAudit({ after: mid.next, limit: 3 })).rows.map((r) => r.seq)).toEqual([1001, 1002, 1003]);
    await s.close();
  });

  it('background touches never undo a revocation or a disable made meanwhile', async () => {
    const s = await open();
    await s.putKey({ id: 'k2', name: 'n', hash: 'x', createdMs: 1, expiresMs: null, revoked: false, lastUsedMs: 0, grants: [] });
    const m = machine();
    await s.putMachine(m);
    await s.revokeKey('k2');
    await s.putMachine({ ...m, disabled: true });
    await s.touchKeys([{ id: 'k2', lastUsedMs: 99 }]);
    await s.touchMachines([{ id: m.id, lastSeenMs: 77, agentVersion: 'cmdop-agent/9' }]);
    const snap = await s.snapshot();
    expect(snap.keys[0]).toMatchObject({ revoked: true, lastUsedMs: 99 });
    expect(snap.machines[0]).toMatchObject({ disabled: true, lastSeenMs: 77, agentVersion: 'cmdop-agent/9' });
    await s.close();
  });

  it('uses a one-use token exactly once, even when two enrolments race', async () => {
    const s = await open();
    const t = token();
    await s.putToken(t);
    const results = await Promise.allSettled([s.enroll(t.id, machine(), Date.now()), s.enroll(t.id, machine(), Date.now())]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message)).toMatch(/used up/);
    expect((await s.snapshot()).machines).toHaveLength(1);
    await s.close();
  });

  it('attaches a machine enrolled with a fleet-bound token, and keeps fleets, attachments and members', async () => {
    const s = await open();
    await s.putFleet({ id: 'f1', name: 'edge', description: '', selector: 'env=prod', disabled: false, createdMs: 1, updatedMs: 1 });
    const t = token({ fleetId: 'f1' });
    await s.putToken(t);
    const { machine: m } = await s.enroll(t.id, machine(), Date.now());
    await s.putKey({ id: 'k', name: 'n', hash: 'x', createdMs: 1, expiresMs: null, revoked: false, lastUsedMs: 0, grants: [] });
    await s.putMember({ fleetId: 'f1', keyId: 'k', role: 'operator', addedMs: 5 });
    let snap = await s.snapshot();
    expect(snap.fleetMachines).toEqual([{ fleetId: 'f1', machineId: m.id }]);
    expect(snap.members).toEqual([{ fleetId: 'f1', keyId: 'k', role: 'operator', addedMs: 5 }]);
    await expect(s.putFleet({ id: 'f2', name: 'edge', description: '', selector: '', disabled: false, createdMs: 1, updatedMs: 1 })).rejects.toThrow(/already called edge/);
    expect(await s.detach('f1', m.id)).toBe(true);
    expect(await s.removeMember('f1', 'k')).toBe(true);
    snap = await s.snapshot();
    expect([snap.fleetMachines, snap.members]).toEqual([[], []]);
    await s.close();
  });

  it('appends audit rows that continue their chain, refuses a duplicate, queries and prunes', async () => {
    const s = await open();
    await s.appendAudit([row('relay:a', 1), row('relay:a', 2, { keyId: 'other', type: 'stream.close' })]);
    await expect(s.appendAudit([row('relay:a', 2)])).rejects.toThrow();
    await s.appendAudit([row('relay:a', 3, { machineId: 'm', agentSeq: 1, body: JSON.stringify({ agent: { hash: 'ah1' } }) })]);
    expect(await s.auditHead('relay:a')).toEqual({ seq: 3, hash: 'h3' });
    expect(await s.agentAuditHead('m')).toEqual({ seq: 1, hash: 'ah1' });
    expect((await s.queryAudit({ keyId: 'other', limit: 10 })).rows.map((r) => r.seq)).toEqual([2]);
    expect((await s.queryAudit({ type: 'stream.*', limit: 10 })).rows.map((r) => r.seq)).toEqual([2]);
    const first = await s.queryAudit({ limit: 2 });
    expect((await s.queryAudit({ after: first.next, limit: 10 })).rows.map((r) => r.seq)).toEqual([3]);
    expect(await s.pruneAudit(25)).toBe(2);
    expect((await s.queryAudit({ limit: 10 })).rows.map((r) => r.seq)).toEqual([3]);
    await s.close();
  });

  it('keeps schedules, and stores each run of a machine once however often a batch is sent', async () => {
    const s = await open();
    const sched = { id: randomUUID(), name: 'nightly', keyId: 'k', createdMs: 1, updatedMs: 1, target: { kind: 'machine' as const, id: 'm' }, trigger: { kind: 'cron' as const, expr: '0 3 * * *', tz: 'UTC' }, action: { kind: 'exec' as const, command: 'true', cwd: '', env: {}, timeoutMs: 1000, maxOutput: 10 }, concurrency: 'skip' as const, jitterMs: 0, missed: 'skip' as const, enabled: true };
    await s.putSchedule(sched);
    await s.putSchedule({ ...sched, enabled: false });
    await expect(s.putSchedule({ ...sched, id: randomUUID() })).rejects.toThrow(/already called nightly/);
    expect((await s.snapshot()).schedules).toEqual([{ ...sched, enabled: false }]);
    const run = (seq: number, machineId = 'm', endMs = seq * 100) => ({ scheduleId: sched.id, machineId, seq, slotMs: seq, startMs: seq, endMs, status: 'ok' as const, exitCode: 0, outputHead: 'h', outputTail: '', outputBytes: 1, reason: '', cause: 'clock' as const, lateMs: 3, missedCount: 0 });
    expect(await s.runsHead('m')).toBe(0);
    expect(await s.appendRuns('m', [run(1), run(2)])).toBe(2);
    expect(await s.appendRuns('m', [run(1), run(2), run(3)])).toBe(3); // the answer to the first send was lost
    expect(await s.appendRuns('n', [run(1, 'n')])).toBe(1);
    const all = await s.queryRuns({ scheduleId: sched.id, limit: 100 });
    expect(all.runs.map((r) => [r.machineId, r.seq])).toEqual([['m', 1], ['m', 2], ['m', 3], ['n', 1]]);
    expect(all.runs[0]).toMatchObject(run(1));
    const p1 = await s.queryRuns({ machineId: 'm', limit: 2 });
    expect((await s.queryRuns({ machineId: 'm', after: p1.next, limit: 10 })).runs.map((r) => r.seq)).toEqual([3]);
    expect(await s.pruneRuns(250)).toBe(3);
    expect((await s.queryRuns({ limit: 10 })).runs.map((r) => [r.machineId, r.seq])).toEqual([['m', 3]]);
    expect(await s.deleteSchedule(sched.id)).toBe(true);
    expect(await s.deleteSchedule(sched.id)).toBe(false);
    expect((await s.snapshot()).schedules).toEqual([]);
    await s.close();
  });
});

describe('PostgreSQL restarted under a running relay', () => {
  it('fails calls with a clear unavailable error while it is down, and recovers by itself', async () => {
    const c = await startCluster({ store: pg.url });
    try {
      const client = await c.client();
      await client.fleets.create('before');
      pg.down();
      const err = await client.fleets.create('during').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as UnavailableError).detail).toBe('store_unavailable');
      expect((err as Error).message).toMatch(/PostgreSQL/);
      // Reads come from the relay's memory and still work.
      expect((await client.fleets.get('before')).name).toBe('before');
      pg.up();
      expect((await client.fleets.create('after')).name).toBe('after');
    } finally {
      await c.close();
    }
  });
});
