/**
 * Foundation figures: agent start -> online, reconnect after a relay restart, agent idle RSS,
 * relay RSS per connected agent with N simulated agents, and the time for all N to be online
 * again after the relay is killed and restarted. All real processes on loopback over TLS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { removeSwarmState } from './swarm-state.js';
import { cli, kill9, startRelay, watch, type Watched } from './watch.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT, rssOf } from './procs.js';
import { figure, median, type Figure } from './figures.js';
import { HERD_QUIET_MS } from '../../src/relay/heap-compactor.js';
import { bareLinksRss } from './bare-links.js';

/**
 * Agent RSS is read this long after start-up (informational), and again once idle: V8 gives back
 * the start-up's young generation and garbage by itself within ~10 s (sampled: 67.5 MB at 3 s,
 * 60.9 MB at 10 s, flat to 90 s), so an idle agent is read at 20 s, and the bare peer with it.
 */
const STARTUP_SETTLE_MS = 3000;
const IDLE_SETTLE_MS = 20_000;
/** The relay settles this long before its base RSS is read, and again once the swarm is online. */
const RELAY_SETTLE_MS = 1000;
const SWARM_SETTLE_MS = 2000;

export async function foundationBench(swarmSize: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-bench-'));
  const figs: Figure[] = [];
  try {
    const relayDir = join(dir, 'relay');
    let relay = await startRelay(relayDir);
    const token = await cli(['tokens', 'issue', '--unlimited', '--data-dir', relayDir]);
    const agentArgs = (i: number) => [CLI('cmdop-agent'), 'run', '--relay', relay.url, '--fingerprint', relay.fingerprint, '--token', token, '--state-dir', join(dir, `agent${i}`), '--socket', join(dir, `agent${i}`, 'agent.sock'), '--hostname', `bench-${i}`, '--log-level', 'info'];

    // Agent process start -> online (Node start-up included), five runs.
    const starts: number[] = [];
    let agent: Watched | null = null;
    for (let i = 0; i < 5; i++) {
      if (agent) await kill9(agent);
      const t0 = performance.now();
      agent = watch(agentArgs(i));
      const { at } = await agent.wait(/"msg":"online"/);
      starts.push(at - t0);
    }
    figs.push(figure('agent start -> online', 'ms', median(starts), 'lower is better'));

    // Idle RSS after the agent has settled, beside a bare Node process holding one TLS WebSocket
    // (the floor: what Node, TLS and ws cost before any of our code).
    const bare = watch([join(ROOT, 'dist/test/bench/bare-ws.js'), relay.url]);
    await bare.wait(/^open$/m);
    await new Promise((r) => setTimeout(r, STARTUP_SETTLE_MS));
    const rss = () => [rssOf(agent!.child.pid!) / 1048576, rssOf(bare.child.pid!) / 1048576] as const;
    const [early, bareEarly] = rss();
    figs.push(figure(`agent RSS ${STARTUP_SETTLE_MS / 1000} s after start-up`, 'MB', early, 'informational', { name: 'bare Node TLS WebSocket', value: bareEarly }));
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS - STARTUP_SETTLE_MS));
    const [idle, bareIdle] = rss();
    figs.push(figure(`agent idle RSS (${IDLE_SETTLE_MS / 1000} s)`, 'MB', idle, '<= 50 MB; within 8 MB of the bare TLS WebSocket', { name: 'bare Node TLS WebSocket', value: bareIdle }));
    await kill9(bare);

    // Reconnect after the relay is killed and restarted on the same port.
    const reconnects: number[] = [];
    for (let i = 0; i < 3; i++) {
      const seen = agent!.out().length;
      await kill9(relay.r);
      relay = await startRelay(relayDir, relay.port);
      const { at } = await agent!.wait(/"msg":"online"/, seen);
      reconnects.push(at - relay.readyAt);
    }
    figs.push(figure('agent reconnect after relay restart', 'ms', median(reconnects), '< 2000 ms'));
    await kill9(agent!);

    // A swarm of simulated agents: relay memory per agent, and all back online after a restart.
    await new Promise((r) => setTimeout(r, RELAY_SETTLE_MS));
    const relayBase = rssOf(relay.r.child.pid!);
    const swarm = watch([join(ROOT, 'dist/test/bench/swarm.js'), relay.url, relay.fingerprint, token, join(dir, 'swarm'), String(swarmSize)]);
    const t0 = performance.now();
    const all = new RegExp(`\\{"online":${swarmSize}\\}`);
    const first = await swarm.wait(all, 0, 300_000);
    figs.push(figure(`${swarmSize} agents enrol + online from cold`, 'ms', first.at - t0, 'lower is better'));
    await new Promise((r) => setTimeout(r, SWARM_SETTLE_MS));
    const rssPerAgent = () => (rssOf(relay.r.child.pid!) - relayBase) / 1024 / swarmSize;
    const herd = rssPerAgent();
    // The relay compacts its heap once the herd has been quiet for HERD_QUIET_MS (heap-compactor.ts).
    await new Promise((r) => setTimeout(r, HERD_QUIET_MS + SWARM_SETTLE_MS));
    const settled = rssPerAgent();
    figs.push(figure(`relay RSS per connected agent (${swarmSize} agents), ${SWARM_SETTLE_MS / 1000} s after the herd`, 'KB', herd, 'informational (before the compaction)'));
    const floor = await bareLinksRss(join(dir, 'bare'), swarmSize, SWARM_SETTLE_MS + HERD_QUIET_MS + SWARM_SETTLE_MS);
    figs.push(figure(`relay RSS per connected agent (${swarmSize} agents), settled`, 'KB', settled, 'lower is better', { name: 'bare https + ws server, per link', value: floor }));
    const seen = swarm.out().length;
    await kill9(relay.r);
    relay = await startRelay(relayDir, relay.port);
    const back = await swarm.wait(all, seen, 300_000);
    figs.push(figure(`all ${swarmSize} agents online after relay restart`, 'ms', back.at - relay.readyAt, 'lower is better'));
    swarm.child.kill('SIGTERM');
    await new Promise((r) => swarm.child.once('exit', r));
    await kill9(relay.r);
  } finally {
    removeSwarmState(join(dir, 'swarm'));
    rmSync(dir, { recursive: true, force: true });
  }
  return figs;
}
