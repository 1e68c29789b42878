/**
 * Schedules end to end on a real relay and real agents over TLS, running real commands:
 * refusals at create time, runs recorded at the relay, trigger, timeouts that kill the process
 * group, revocation that stops a schedule, deletion while an agent is offline, restarts that
 * never run a slot twice, and a 50-agent fleet on a fake clock whose jitter spreads the runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { rejection, waitFor } from '../helpers/wait.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { Client } from '../../src/client/client.js';
import type { Agent } from '../../src/agent/agent.js';
import type { ScheduleRun } from '../../src/client/schedules.js';
import { PermissionError, ValidationError } from '../../src/errors.js';
import { run } from '../helpers/procs.js';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { startFakeLlm } from '../helpers/fake-llm.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const rejects = rejection;

async function allRuns(c: Client, schedule: string): Promise<ScheduleRun[]> {
  const out: ScheduleRun[] = [];
  for await (const r of c.schedules.iterRuns(schedule)) out.push(r);
  return out;
}

const pgrep = (pattern: string) => {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

describe('schedules', () => {
  let c: Cluster;
  let admin: Client;
  let a1: Agent;
  let b1: Agent;

  beforeAll(async () => {
    c = await startCluster();
    admin = await c.client();
    a1 = await c.startAgent('a1', { labels: { env: 'a' } });
    b1 = await c.startAgent('b1', { labels: { env: 'b' } });
    await Promise.all([a1.online(), b1.online()]);
  });
  afterAll(() => c.close());

  it('refuses a bad cron, an unknown zone, an unreachable target and an action outside the grants, storing nothing', async () => {
    const a = await admin.machines.get('a1');
    const { secret } = await admin.keys.issue({ name: 'a-info', grants: [{ on: 'machines', ids: [a.id], caps: ['info', 'exec'] }] });
    const scoped = await c.client({ token: secret });
    const { secret: infoOnly } = await admin.keys.issue({ name: 'a-viewer', grants: [{ on: 'machines', ids: [a.id], caps: ['info'] }] });
    const viewer = await c.client({ token: infoOnly });
    const base = { name: 'bad', machine: 'a1', command: 'true' };
    const e1 = await rejects(admin.schedules.create({ ...base, cron: '61 * * * *' }));
    expect([e1 instanceof ValidationError, e1.detail, e1.message]).toEqual([true, 'bad_cron', expect.stringContaining('minute')]);
    const e2 = await rejects(admin.schedules.create({ ...base, cron: '0 3 * * *', tz: 'Europe/Atlantis' }));
    expect([e2 instanceof ValidationError, e2.detail]).toEqual([true, 'bad_time_zone']);
    const e3 = await rejects(scoped.schedules.create({ ...base, machine: 'b1', everyMs: 60_000 }));
    expect([e3 instanceof PermissionError, e3.message]).toEqual([true, expect.stringContaining('cannot reach machine b1')]);
    const e4 = await rejects(viewer.schedules.create({ ...base, everyMs: 60_000 }));
    expect([e4 instanceof PermissionError, e4.message]).toEqual([true, expect.stringContaining('lacks the exec grant on a1')]);
    const e5 = await rejects(scoped.schedules.create({ ...base, machine: undefined, fleet: 'nope', everyMs: 60_000 }));
    expect(e5).toBeInstanceOf(PermissionError);
    const e6 = await rejects(admin.schedules.create({ ...base, everyMs: 10 }));
    expect(e6).toBeInstanceOf(ValidationError);
    expect((await admin.schedules.list()).items).toEqual([]);
  });

  it('runs on the agent, reports every run to the relay, triggers on demand, and audits all of it', async () => {
    const s = await admin.schedules.create({ name: 'tick', machine: 'a1', everyMs: 1000, command: 'echo tick-$CMDOP_HOSTNAME' });
    expect(s.nextRunAt).toBeInstanceOf(Date);
    const runs = await waitFor('three runs at the relay', async () => {
      const r = await allRuns(admin, 'tick');
      return r.length >= 3 && r;
    });
    expect(runs.slice(0, 3).map((r) => [r.status, r.exitCode, r.outputHead.trim(), r.cause])).toEqual(new Array(3).fill(['ok', 0, 'tick-a1', 'clock']));
    // The host says what it holds (`cmdop-agent status` prints the same).
    const st = cmdop.v1.AgentStatus.decode(await admin.call('a1', 'agent', 'status', cmdop.v1.Empty.encode({}).finish()));
    expect([st.schedules, st.runsPending >= 0]).toEqual([1, true]);
    const sent = await admin.schedules.trigger('tick');
    expect(sent).toEqual({ sent: [a1.relay!.machineId], offline: [] });
    await waitFor('the manual run', async () => (await allRuns(admin, 'tick')).some((r) => r.cause === 'manual'));
    await admin.schedules.delete('tick');
    await waitFor('the agent dropped it', () => a1.scheduler.list().length === 0);
    const types = new Set<string>();
    await waitFor('audit records', async () => {
      for await (const e of admin.audit.iter({ type: 'schedule.*' })) types.add(e.type);
      for await (const e of admin.audit.iter({ type: 'agent.schedule.*' })) types.add(e.type);
      return types.has('agent.schedule.run') && types.has('schedule.created') && types.has('schedule.triggered') && types.has('schedule.deleted');
    });
  });

  it('kills a job that outlives its timeout with its process group, and skips the slot it overlapped', async () => {
    const marker = `sleep 61.${process.pid}`;
    await admin.schedules.create({ name: 'slow', machine: 'b1', everyMs: 1000, timeoutMs: 1500, command: `${marker} & ${marker}` });
    const runs = await waitFor('a timeout and a skipped slot', async () => {
      const r = await allRuns(admin, 'slow');
      return r.some((x) => x.status === 'timeout') && r.some((x) => x.status === 'skipped') && r;
    }, 20_000);
    await admin.schedules.delete('slow');
    const t = runs.find((x) => x.status === 'timeout')!;
    expect(t.reason).toMatch(/process group was killed/);
    const skipped = runs.find((x) => x.status === 'skipped')!;
    expect(skipped.reason).toBe('the last run is still going');
    expect(skipped.slotAt.getTime()).toBeGreaterThan(t.slotAt.getTime());
    await waitFor('no sleep left from the killed groups', () => pgrep(marker).length === 0, 10_000);
  });

  it('a revoked key stops its schedules', async () => {
    const { key, secret } = await admin.keys.issue({ name: 'ops', grants: [{ on: 'all', caps: ['exec', 'info'] }] });
    const ops = await c.client({ token: secret });
    await ops.schedules.create({ name: 'by-ops', machine: 'a1', everyMs: 1000, command: 'true' });
    await waitFor('the agent holds it', () => a1.scheduler.list().some((h) => h.schedule.name === 'by-ops'));
    await admin.keys.revoke(key.id);
    await waitFor('the agent dropped it', () => !a1.scheduler.list().some((h) => h.schedule.name === 'by-ops'));
    const dropped = Date.now();
    // A witness on the same agent and clock: two of its slots pass with no run of the revoked one.
    await admin.schedules.create({ name: 'witness', machine: 'a1', everyMs: 1000, command: 'true' });
    await waitFor('two witness runs', async () => (await allRuns(admin, 'witness')).length >= 2);
    expect((await allRuns(admin, 'by-ops')).filter((r) => r.startedAt.getTime() > dropped)).toEqual([]);
    await admin.schedules.delete('witness');
    await admin.schedules.delete('by-ops');
  });

  it('a selector target reaches the machines whose labels match now, and follows a label change', async () => {
    await admin.schedules.create({ name: 'by-label', selector: 'env=b', everyMs: 3600_000, command: 'true' });
    await waitFor('b1 holds it', () => b1.scheduler.list().some((h) => h.schedule.name === 'by-label'));
    expect(a1.scheduler.list().some((h) => h.schedule.name === 'by-label')).toBe(false);
    await admin.machines.update('a1', { labels: { env: 'b' } });
    await waitFor('a1 holds it once its labels match', () => a1.scheduler.list().some((h) => h.schedule.name === 'by-label'));
    expect((await admin.schedules.trigger('by-label')).sent.sort()).toEqual([a1.relay!.machineId, b1.relay!.machineId].sort());
    await admin.machines.update('a1', { labels: { env: 'a' } });
    await waitFor('a1 dropped it', () => !a1.scheduler.list().some((h) => h.schedule.name === 'by-label'));
    await admin.schedules.delete('by-label');
  });

  it('the CLI creates, lists, triggers, shows runs and deletes, with --json and one-line errors', async () => {
    const conn = ['--url', c.relay.url, '--token', c.apiKey, '--fingerprint', c.relay.fingerprint];
    const bad = await run('cmdop', ['schedules', 'create', 'nightly', '--machine', 'a1', '--cron', '30 2 * *', '--tz', 'Europe/Berlin', ...conn, '--', '/bin/true']);
    expect([bad.code, bad.stderr.trim().split('\n').length, bad.stderr]).toEqual([1, 1, expect.stringContaining('5 fields')]);
    const made = await run('cmdop', ['schedules', 'create', 'nightly', '--machine', 'a1', '--cron', '30 2 * * *', '--tz', 'Europe/Berlin', '--json', ...conn, '--', 'echo', 'it is $HOME']);
    expect(made.code).toBe(0);
    const s = JSON.parse(made.stdout);
    expect([s.name, s.trigger, s.action.command, s.concurrency, s.missed]).toEqual(['nightly', { cron: '30 2 * * *', tz: 'Europe/Berlin' }, "echo 'it is $HOME'", 'skip', 'run_once']);
    expect(new Date(s.nextRunAt).getUTCMinutes()).toBe(30);
    const fleet = await run('cmdop', ['schedules', 'create', 'often', '--machine', 'a1', '--every', '1s', '--jitter', '0s', '--concurrency', 'queue', ...conn, '--', 'echo', 'hi']);
    expect([fleet.code, fleet.stdout]).toEqual([0, expect.stringMatching(/often .* enabled .* every 1s/)]);
    const list = await run('cmdop', ['schedules', 'list', ...conn]);
    expect(list.stdout).toMatch(/nightly[\s\S]*often/);
    expect((await run('cmdop', ['schedules', 'trigger', 'nightly', ...conn])).stdout).toBe('sent to 1 machine(s)\n');
    await waitFor('the triggered run', async () => (await allRuns(admin, 'nightly')).length === 1);
    const runs = await run('cmdop', ['schedules', 'runs', 'nightly', '--output', ...conn]);
    expect(runs.stdout).toMatch(/SEQ[\s\S]*ok +0 .* manual/);
    expect(runs.stdout).toContain('it is $HOME');
    const upd = await run('cmdop', ['schedules', 'update', 'often', '--disabled', '--json', ...conn]);
    expect(JSON.parse(upd.stdout).enabled).toBe(false);
    for (const n of ['nightly', 'often']) expect((await run('cmdop', ['schedules', 'delete', n, ...conn])).code).toBe(0);
    const gone = await run('cmdop', ['schedules', 'get', 'nightly', ...conn]);
    expect([gone.code, gone.stderr]).toEqual([1, expect.stringContaining('no schedule nightly')]);
  });

  it('keeps schedules over an agent restart without running a slot twice, and drops one deleted while it was offline', async () => {
    await admin.schedules.create({ name: 'keep', machine: 'b1', everyMs: 1000, command: 'true' });
    const doomedId = (await admin.schedules.create({ name: 'doomed', machine: 'b1', everyMs: 1000, command: 'true' })).id;
    await waitFor('two runs of each', async () => (await allRuns(admin, 'keep')).length >= 2 && (await allRuns(admin, 'doomed')).length >= 2);
    await c.stopAgent('b1');
    await admin.schedules.delete('doomed');
    const doomedBefore = (await allRuns(admin, doomedId)).length;
    b1 = await c.startAgent('b1', { labels: { env: 'b' } });
    await b1.online();
    await waitFor('the relay set reached it', () => b1.scheduler.list().map((h) => h.schedule.name).join() === 'keep');
    const after = await waitFor('more runs of keep after the restart', async () => {
      const r = await allRuns(admin, 'keep');
      return r.length >= 6 && r;
    }, 20_000);
    const slots = after.map((r) => r.slotAt.getTime());
    expect(new Set(slots).size).toBe(slots.length);
    expect([...slots].sort((x, y) => x - y)).toEqual(slots);
    const seqs = after.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    // Runs of "doomed" the agent made while offline are recorded; none after it reconnected.
    const doomed = await allRuns(admin, doomedId);
    const online = b1.relay!.status().onlineSinceMs;
    expect(doomed.length).toBeGreaterThanOrEqual(doomedBefore);
    expect(doomed.filter((r) => r.startedAt.getTime() >= online)).toEqual([]);
    await admin.schedules.delete('keep');
  });
});

describe('a scheduled AI ask', () => {
  it('runs unattended only what is safe or was approved by its exact text, and never where a PIN guards', async () => {
    const llm = await startFakeLlm();
    const c = await startCluster();
    try {
      const agent = await c.startAgent('ai1', { aiBaseUrl: llm.url, aiModel: 'fake', pin: 'off' });
      const guarded = await c.startAgent('ai2', { aiBaseUrl: llm.url, aiModel: 'fake' });
      await Promise.all([agent.online(), guarded.online()]);
      const admin = await c.client();
      const approved = join(c.dir, 'approved');
      const denied = join(c.dir, 'denied');
      await admin.schedules.create({ name: 'tidy', machine: 'ai1', everyMs: 3600_000, ask: 'tidy up', agentType: 'terminal', approve: [`touch ${approved}`] });
      llm.script(
        { kind: 'tools', calls: [{ name: 'run_command', arguments: JSON.stringify({ command: `touch ${denied}` }) }] },
        { kind: 'tools', calls: [{ name: 'run_command', arguments: JSON.stringify({ command: `touch ${approved}` }) }] },
        { kind: 'text', text: 'tidied' },
      );
      await waitFor('ai1 holds it', () => agent.scheduler.list().length === 1);
      await admin.schedules.trigger('tidy');
      const [r] = await waitFor('the run', async () => {
        const x = await allRuns(admin, 'tidy');
        return x.length === 1 && x;
      }, 20_000);
      expect([r!.status, r!.outputHead, r!.reason]).toEqual(['ok', 'tidied', `refused (needs a person to confirm): touch ${denied}`]);
      expect([existsSync(approved), existsSync(denied)]).toEqual([true, false]);
      await admin.schedules.create({ name: 'guarded', machine: 'ai2', everyMs: 3600_000, ask: 'hello', agentType: 'chat' });
      await waitFor('ai2 holds it', () => guarded.scheduler.list().length === 1);
      await admin.schedules.trigger('guarded');
      const [g] = await waitFor('the refused run', async () => {
        const x = await allRuns(admin, 'guarded');
        return x.length === 1 && x;
      }, 20_000);
      expect([g!.status, g!.reason]).toEqual(['error', expect.stringContaining('this machine has a PIN')]);
      expect(llm.requests).toHaveLength(3); // the guarded host never reached the model
    } finally {
      await c.close();
      await llm.close();
    }
  });
});

describe('a fleet of 50 agents on one clock', () => {
  let c: Cluster;
  afterAll(() => c?.close());

  it('spreads a per-minute schedule with jitter over the window instead of one burst', async () => {
    c = await startCluster();
    const admin = await c.client();
    await admin.fleets.create('edge', { selector: 'role=edge' });
    const start = Date.parse('2027-01-04T10:00:00Z') - 5000;
    const clock = new FakeClock(start);
    const token = await c.joinToken({ uses: null });
    const agents: Agent[] = [];
    for (let i = 0; i < 50; i++) agents.push(await c.startAgentWithToken(`e${i}`, token, { labels: { role: 'edge' } }, { clock, local: false }));
    await Promise.all(agents.map((a) => a.online()));
    await admin.schedules.create({ name: 'minutely', fleet: 'edge', cron: '* * * * *', jitterMs: 30_000, command: 'true' });
    await waitFor('every agent holds it', () => agents.every((a) => a.scheduler.list().length === 1), 20_000);
    for (let s = 0; s < 60; s++) await clock.advance(1000);
    const runs = await waitFor('50 runs at the relay', async () => {
      const r = await allRuns(admin, 'minutely');
      return r.length >= 50 && r;
    }, 30_000);
    const minute = Date.parse('2027-01-04T10:00:00Z');
    expect(runs.every((r) => r.slotAt.getTime() === minute && r.status === 'ok')).toBe(true);
    expect(new Set(runs.map((r) => r.machineId)).size).toBe(50);
    const offsets = runs.map((r) => r.startedAt.getTime() - minute);
    expect(offsets.every((o) => o >= 0 && o < 31_000)).toBe(true);
    const buckets = new Array(10).fill(0);
    for (const o of offsets) buckets[Math.min(9, Math.floor(o / 3000))]++;
    expect(Math.max(...offsets) - Math.min(...offsets)).toBeGreaterThan(20_000);
    expect(Math.max(...buckets)).toBeLessThanOrEqual(15);
  }, 120_000);
});
