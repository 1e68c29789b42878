/**
 * Schedule figures:
 * - scheduling accuracy: BENCH_SCHED_RUNS runs (default 1000) of 20 every-second schedules on one
 *   real agent against a relay process, twice: slots spread 50 ms apart over each second, and
 *   back to back; lateness is the scheduler's own record (start - (slot + jitter), taken as the
 *   command is spawned), p50 and p99, beside a bare Node process (timer-peer.ts) spawning the
 *   same command at the same instants (the floor for a Node scheduler that forks commands);
 * - drain after an outage: 50 agents, each with 100 run records queued while the relay was
 *   SIGKILLed, the time from the relay's restart until every record is acknowledged (and, per
 *   agent, from its reconnect to its last acknowledgement, the worst one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { AGENT_SETTINGS, type AgentConfig } from '../../src/agent/config.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { Client } from '../../src/client/client.js';
import { silentLogger } from '../../src/log.js';
import type { ScheduleRun } from '../../src/client/schedules.js';
import { figure, percentile, type Figure } from './figures.js';
import { onGroupEnd } from './peers.js';
import { cli, kill9, startRelay, watch } from './watch.js';
import { ROOT } from './procs.js';

const SCHEDULES = 20;
const FLEET = 50;
const QUEUED = 100;

function agentConfig(dir: string, name: string, relay: { url: string; fingerprint: string }, token: string): AgentConfig {
  const { values } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
  return { ...values, relay: relay.url, fingerprint: relay.fingerprint, token, stateDir: join(dir, name, 'state'), socket: join(dir, name, 'agent.sock'), hostname: name, logLevel: 'silent' };
}

const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** The bare-Node peer (timer-peer.ts) at the same slot instants, run after ours so the two never share the cores. */
async function peerLateness(anchors: number[], rounds: number): Promise<number[]> {
  const p = watch([join(ROOT, 'dist/test/bench/timer-peer.js'), JSON.stringify(anchors), String(rounds), '1000']);
  const { match } = await p.wait(/^(\[.*\])$/m, 0, rounds * 2000 + 30_000);
  return JSON.parse(match[1]!) as number[];
}

/** `spreadMs` apart: 0 puts the 20 slots of each second together (back to back), 50 spreads them over it. */
async function accuracy(dir: string, runs: number, spreadMs: number): Promise<Figure[]> {
  const data = join(dir, `relay-acc-${spreadMs}`);
  const relay = await startRelay(data);
  const token = await cli(['tokens', 'issue', '--unlimited', '--data-dir', data]);
  const key = await cli(['keys', 'issue', '--name', 'bench', '--data-dir', data]);
  const agent = await Agent.start({ config: agentConfig(dir, `acc${spreadMs}`, relay, token), log: silentLogger(), local: false });
  onGroupEnd(() => void agent.stop());
  await agent.online();
  const client = await Client.connect({ url: relay.url, token: key, fingerprint: relay.fingerprint, timeoutMs: 10_000 });
  try {
    for (let i = 0; i < SCHEDULES; i++) {
      await client.schedules.create({ name: `acc-${i}`, machine: `acc${spreadMs}`, everyMs: 1000, command: 'true' });
      if (spreadMs) await new Promise((r) => setTimeout(r, spreadMs)); // the slot anchor is the creation instant
    }
    // Counted as the agent records them (polling the relay from this process would load the agent's event loop).
    let recorded = 0;
    agent.runs.onRecord(() => recorded++);
    const collect = async () => {
      const all: ScheduleRun[] = [];
      for (let i = 0; i < SCHEDULES; i++) for await (const r of client.schedules.iterRuns(`acc-${i}`)) all.push(r);
      return all;
    };
    await until(`${runs} runs`, () => recorded >= runs, runs * 200);
    for (let i = 0; i < SCHEDULES; i++) await client.schedules.update(`acc-${i}`, { enabled: false });
    await until('the journal drained', () => agent.runs.unacknowledged === 0, 30_000);
    const all = (await collect()).sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
    const late = all.slice(0, runs).map((r) => r.lateMs);
    // The peer's instants are ours: each schedule's slot phase within the second, from its runs.
    const anchors = [...new Map(all.map((r) => [r.scheduleId, r.slotAt.getTime() % 1000])).values()];
    const base = Math.floor(Date.now() / 1000) * 1000;
    const floor = await peerLateness(anchors.map((a) => base + a), Math.ceil(runs / SCHEDULES));
    return [
      figure(`schedule lateness p50 (${SCHEDULES} every-second schedules ${spreadMs ? `${spreadMs} ms apart` : 'back to back'}, ${late.length} runs)`, 'ms', percentile(late, 50), '<= 2x bare Node', { name: 'bare Node setTimeout+spawn p50', value: percentile(floor, 50) }),
      figure(`schedule lateness p99 (${spreadMs ? 'spread' : 'back to back'})`, 'ms', percentile(late, 99), '<= 2x bare Node', { name: 'bare Node setTimeout+spawn p99', value: percentile(floor, 99) }),
      figure(`schedule runs not ok (${spreadMs ? 'spread' : 'back to back'})`, 'runs', all.filter((r) => r.status !== 'ok').length, '0'),
    ];
  } finally {
    for (let i = 0; i < SCHEDULES; i++) await client.schedules.delete(`acc-${i}`).catch(() => undefined);
    await client.close();
    await agent.stop();
    await kill9(relay.r);
  }
}

async function drain(dir: string): Promise<Figure[]> {
  const data = join(dir, 'relay2');
  let relay = await startRelay(data);
  const token = await cli(['tokens', 'issue', '--unlimited', '--data-dir', data]);
  const agents: Agent[] = [];
  onGroupEnd(() => void Promise.all(agents.map((a) => a.stop())));
  for (let i = 0; i < FLEET; i++) agents.push(await Agent.start({ config: agentConfig(dir, `d${i}`, relay, token), log: silentLogger(), local: false }));
  await Promise.all(agents.map((a) => a.online(60_000)));
  const port = relay.port;
  await kill9(relay.r);
  await until('all offline', () => agents.every((a) => a.relay!.state !== 'online'), 30_000);
  const now = Date.now();
  for (const a of agents) {
    for (let i = 0; i < QUEUED; i++) a.runs.append({ scheduleId: 'bench', machineId: '', slotMs: now + i * 1000, startMs: now + i * 1000, endMs: now + i * 1000 + 5, status: 'ok', exitCode: 0, outputHead: 'ok\n', outputTail: '', outputBytes: 3, reason: '', cause: 'clock', lateMs: 1, missedCount: 0 });
  }
  const perAgent: number[] = [];
  const waits = agents.map(
    (a) =>
      new Promise<void>((resolve) => {
        a.relay!.once('online', () => {
          const t0 = performance.now();
          const poll = () => (a.runs.unacknowledged === 0 ? (perAgent.push(performance.now() - t0), resolve()) : setTimeout(poll, 5));
          poll();
        });
      }),
  );
  relay = await startRelay(data, port);
  const t0 = relay.readyAt;
  await Promise.race([Promise.all(waits), new Promise((_r, rej) => setTimeout(() => rej(new Error('bench: drain did not finish in 120 s')), 120_000))]);
  const total = performance.now() - t0;
  await Promise.all(agents.map((a) => a.stop()));
  await kill9(relay.r);
  return [
    figure(`relay restart -> ${FLEET}x${QUEUED} queued run records acknowledged`, 'ms', total, 'informational (includes each agent\'s reconnect backoff)'),
    figure('agent reconnect -> its queued runs acknowledged, worst agent', 'ms', Math.max(...perAgent), '<= 1000 ms'),
  ];
}

export async function schedulesBench(runs: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-bench-sched-'));
  try {
    return [...(await accuracy(dir, runs, 50)), ...(await accuracy(dir, runs, 0)), ...(await drain(dir))];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
