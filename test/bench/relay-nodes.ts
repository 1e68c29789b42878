/**
 * Issue 19's figures: three relay nodes on one PostgreSQL (Debian's, throwaway), as processes.
 *
 * - The added cost of a cross-node hop: a real agent process linked to node 1; one client on node
 *   1 (same node) and one on node 2 (one cluster link more). 1-byte round trips through a tunnel
 *   (p50/p99) and a bulk tunnel download, same-node against cross-node in the same run.
 * - N simulated agents (the real agent link, many to a process, two processes) given all three
 *   URLs: enrol + online from cold, relay RSS per agent summed over the nodes, and all N online
 *   again after one node is SIGKILLed. Then the same herd again on three nodes that allocate with
 *   jemalloc (preloaded), where Debian's libjemalloc2 is installed.
 */
import { existsSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { startRelayCluster, type RelayCluster } from '../helpers/relay-cluster.js';
import { DEFAULT_HEARTBEAT_MS } from '../../src/protocol/limits.js';
import { agentProcess, rssNow } from '../helpers/procs.js';
import { HERD_QUIET_MS } from '../../src/relay/heap-compactor.js';
import { bareLinksRss } from './bare-links.js';
import { figure, percentile, rateUntilClose, type Figure } from './figures.js';
import { watch, kill9, type Watched } from './watch.js';
import { removeSwarmState } from './swarm-state.js';
import { ROOT } from './procs.js';

const SETTLE_MS = 1500;
/** Where Debian's libjemalloc2 puts the library, per architecture. */
const JEMALLOC = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function listen(s: Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));
}

/** `n` 1-byte round trips on one connection; the latencies in ms. */
async function roundTrips(port: number, n: number): Promise<number[]> {
  const sock: Socket = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      sock.once('data', () => resolve());
      sock.write('x');
    });
    out.push(performance.now() - t0);
  }
  sock.destroy();
  return out;
}

/** Total online over the swarm processes, from their {"online": n} lines. */
function onlineOf(swarms: Watched[]): number {
  let sum = 0;
  for (const s of swarms) {
    const m = [...s.out().matchAll(/\{"online":(\d+)\}/g)].pop();
    sum += m ? Number(m[1]) : 0;
  }
  return sum;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(20);
  }
  return performance.now();
}

/**
 * N simulated agents over two processes, each given all three nodes of `c`: enrol + online from
 * cold, relay RSS per agent (1.5 s after the herd and settled, beside the bare floor with the same
 * allocator), and all online again after one node is SIGKILLed. `allocator` names the nodes'
 * malloc, and `env` is what the nodes were started with, given to the floor's server too.
 */
async function herd(c: RelayCluster, agents: number, allocator: string, env: NodeJS.ProcessEnv = {}): Promise<Figure[]> {
  const figs: Figure[] = [];
  const swarms: Watched[] = [];
  try {
    const token = await c.joinToken();
    const pids = c.nodes.map((n) => n.proc.child.pid!);
    await sleep(SETTLE_MS);
    const base = pids.reduce((s, p) => s + rssNow(p), 0);
    const t0 = performance.now();
    const halves = [Math.ceil(agents / 2), Math.floor(agents / 2)];
    halves.forEach((n, i) => swarms.push(watch([join(ROOT, 'dist/test/bench/swarm.js'), c.urls, c.fingerprint, token, join(c.dir, `swarm${i}`), String(n)])));
    const cold = await until(`${agents} agents online`, () => onlineOf(swarms) >= agents, 600_000);
    figs.push(figure(`${agents} agents over 3 nodes (${allocator}): enrol + online from cold`, 'ms', cold - t0, 'lower is better'));
    // With BENCH_SWARM_DEBUG each swarm prints its reconnect and error counts once all are online.
    if (process.env.BENCH_SWARM_DEBUG) for (const s of swarms) process.stderr.write(s.out().split('\n').filter((l) => l.includes('reconnects')).join('\n') + '\n');
    await sleep(SETTLE_MS);
    const rssPerAgent = () => (pids.reduce((s, p) => s + rssNow(p), 0) - base) / 1024 / agents;
    const early = rssPerAgent();
    // Each node compacts its heap once the herd has been quiet for HERD_QUIET_MS (heap-compactor.ts).
    await sleep(HERD_QUIET_MS + SETTLE_MS);
    const settled = rssPerAgent();
    figs.push(figure(`relay RSS per connected agent, ${agents} agents over 3 nodes (TLS, ${allocator}), ${SETTLE_MS / 1000} s after the herd`, 'KB', early, 'informational (before the compaction)'));
    // The floor: a bare https + ws server holding a node's share of the links, measured alike.
    const floor = await bareLinksRss(join(c.dir, 'bare'), Math.round(agents / 3), SETTLE_MS + HERD_QUIET_MS + SETTLE_MS, env);
    figs.push(figure(`relay RSS per connected agent, ${agents} agents over 3 nodes (TLS, ${allocator}), settled`, 'KB', settled, '<= 30 KB (goal)', { name: 'bare https + ws server, per link', value: floor }));
    // BENCH_NODES_HOLD_MS: the settled nodes wait this long, their pids on stderr, for a heap snapshot
    // from outside (run with BENCH_NODE_ARGS=--heapsnapshot-signal=SIGUSR2).
    if (process.env.BENCH_NODES_HOLD_MS) {
      process.stderr.write(`holding nodes ${pids.join(' ')}\n`);
      await sleep(Number(process.env.BENCH_NODES_HOLD_MS));
    }
    const tk = performance.now();
    await c.kill(2);
    await until('the killed node\'s agents to drop', () => onlineOf(swarms) < agents, 60_000);
    const back = await until(`all ${agents} agents online again`, () => onlineOf(swarms) >= agents, 600_000);
    figs.push(figure(`all ${agents} agents online again after one of 3 nodes is SIGKILLed (${allocator})`, 'ms', back - tk, '< 10000 ms (goal)'));
    return figs;
  } finally {
    await Promise.all(swarms.map((s) => kill9(s)));
    swarms.forEach((_, i) => removeSwarmState(join(c.dir, `swarm${i}`)));
  }
}

export async function relayNodesBench(agents: number, mib: number): Promise<Figure[]> {
  // The production heartbeat (DEFAULT_HEARTBEAT_MS): at the tests' 1 s, 4,000 agents' beats were
  // 20% of each node's CPU, and the herd queued behind them.
  const heartbeat = `${DEFAULT_HEARTBEAT_MS / 1000}s`;
  const c = await startRelayCluster(3, { heartbeat });
  const figs: Figure[] = [];
  const echo = createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.pipe(s);
  });
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const source = createServer((s) => {
    let left = mib * 1024 * 1024;
    s.on('error', () => undefined);
    const pump = () => {
      while (left > 0) {
        left -= chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  try {
    const [echoPort, sourcePort] = [await listen(echo), await listen(source)];
    const agent = await agentProcess(join(c.dir, 'real'), { url: c.nodes[0]!.proc.url, fingerprint: c.fingerprint }, await c.joinToken(), 'real');
    const same = await Client.connect({ url: c.nodes[0]!.proc.url, token: c.apiKey, fingerprint: c.fingerprint, timeoutMs: 30_000 });
    const cross = await Client.connect({ url: c.nodes[1]!.proc.url, token: c.apiKey, fingerprint: c.fingerprint, timeoutMs: 30_000 });
    const lat: Record<string, number[]> = { same: [], cross: [] };
    const rate: Record<string, number[]> = { same: [], cross: [] };
    const tunnels = { same: await same.tunnels.open('real', { remotePort: echoPort }), cross: await cross.tunnels.open('real', { remotePort: echoPort }) };
    const bulk = { same: await same.tunnels.open('real', { remotePort: sourcePort }), cross: await cross.tunnels.open('real', { remotePort: sourcePort }) };
    for (const name of ['same', 'cross'] as const) {
      await roundTrips(tunnels[name].localPort, 200); // warm up
      await rateUntilClose(connect(bulk[name].localPort, '127.0.0.1'));
    }
    // Interleaved rounds, so drift on a busy machine lands on both sides alike.
    for (let round = 0; round < 4; round++) {
      for (const name of (round % 2 ? ['cross', 'same'] : ['same', 'cross']) as Array<'same' | 'cross'>) {
        lat[name]!.push(...(await roundTrips(tunnels[name].localPort, 500)));
        rate[name]!.push(await rateUntilClose(connect(bulk[name].localPort, '127.0.0.1')));
      }
    }
    for (const t of [...Object.values(tunnels), ...Object.values(bulk)]) await t.close();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    figs.push(figure('tunnel 1-byte round trip p50, client on another node than the agent', 'ms', percentile(lat.cross!, 50), 'informational (one cluster hop more)', { name: 'client on the agent\'s node', value: percentile(lat.same!, 50) }));
    figs.push(figure('tunnel 1-byte round trip p99, client on another node than the agent', 'ms', percentile(lat.cross!, 99), 'informational (one cluster hop more)', { name: 'client on the agent\'s node', value: percentile(lat.same!, 99) }));
    figs.push(figure(`tunnel bulk ${mib} MiB, client on another node than the agent`, 'MB/s', mean(rate.cross!) / 1e6, 'informational (one cluster hop more)', { name: 'client on the agent\'s node', value: mean(rate.same!) / 1e6 }));
    // A revoke on node 1 reaching a live link on node 2 (PostgreSQL NOTIFY, one key reload, the close).
    const spread: number[] = [];
    for (let i = 0; i < 10; i++) {
      const { key, secret } = await same.keys.issue({ name: `doomed-${i}` });
      const victim = await Client.connect({ url: c.nodes[1]!.proc.url, token: secret, fingerprint: c.fingerprint, timeoutMs: 30_000, autoReconnect: false });
      const gone = new Promise<number>((r) => victim.on('disconnect', () => r(performance.now())));
      const t0 = performance.now();
      await same.keys.revoke(key.id);
      spread.push((await gone) - t0);
      await victim.close();
    }
    figs.push(figure('key revoked on node 1 -> its live link on node 2 closed (median of 10)', 'ms', percentile(spread, 50), '< 1000 ms'));
    figs.push(figure('key revoked on node 1 -> its live link on node 2 closed (worst of 10)', 'ms', Math.max(...spread), '< 1000 ms'));
    await same.close();
    await cross.close();
    await agent.kill();

    figs.push(...(await herd(c, agents, 'glibc malloc')));
  } finally {
    echo.close();
    source.close();
    await c.close();
  }
  // The same herd on nodes that allocate with jemalloc (Debian's libjemalloc2, preloaded), when it
  // is installed: glibc keeps the free memory a herd leaves between live allocations.
  const jemalloc = JEMALLOC.find((f) => existsSync(f));
  if (!jemalloc) {
    process.stderr.write('bench: relay-nodes: no jemalloc herd (apt-get install libjemalloc2)\n');
    return figs;
  }
  const env = { LD_PRELOAD: jemalloc };
  const je = await startRelayCluster(3, { heartbeat, env });
  try {
    figs.push(...(await herd(je, agents, 'jemalloc', env)));
  } finally {
    await je.close();
  }
  return figs;
}
