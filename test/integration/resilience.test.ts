import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Agent } from '../../src/agent/agent.js';
import { Relay, MAX_HANDSHAKES_PER_ADDRESS } from '../../src/relay/relay.js';
import { RelayState } from '../../src/relay/state.js';
import { EmbeddedStore } from '../../src/relay/store/embedded.js';
import { silentLogger } from '../../src/log.js';
import { Client } from '../../src/client/client.js';
import { AGENT_SETTINGS, type AgentConfig } from '../../src/agent/config.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { tempDir } from '../helpers/tmp.js';
import { relayProcess, run } from '../helpers/procs.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { rawPeer } from '../helpers/raw.js';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { generateKeyPairSync } from 'node:crypto';
import { WebSocket } from 'ws';

import { startCluster } from '../helpers/cluster.js';

function config(dir: string, name: string, url: string, fingerprint: string, token: string, extra: Partial<AgentConfig> = {}): AgentConfig {
  const { values } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
  return { ...values, relay: url, fingerprint, token, stateDir: join(dir, name), socket: join(dir, name, 'agent.sock'), hostname: name, ...extra };
}

/** Counts of the kinds of live handles, to check nothing leaks across reconnects. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

describe('relay killed and restarted', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  // How fast they come back is a bench figure (test/bench/cluster.ts); here only that they do, with a generous bound against a hang.
  it('agents come back online after the relay restarts, and nothing leaks', async () => {
    const relayDir = join(dir, 'relay');
    let relay = await relayProcess(relayDir);
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--unlimited', '--data-dir', relayDir])).stdout.trim();
    const agents: Agent[] = [];
    for (let i = 0; i < 5; i++) agents.push(await Agent.start({ config: config(dir, `a${i}`, relay.url, relay.fingerprint, token), log: silentLogger(), local: false }));
    await Promise.all(agents.map((a) => a.online(10_000)));
    const before = resources();
    const figures: number[] = [];
    for (let round = 0; round < 3; round++) {
      const offline = agents.map((a) => new Promise((r) => a.relay!.once('offline', r)));
      await relay.kill('SIGKILL');
      await Promise.all(offline);
      relay = await relayProcess(relayDir, relay.port);
      const back = Date.now();
      await Promise.all(agents.map((a) => a.online(30_000).then(() => figures.push(Date.now() - back))));
    }
    expect(figures).toHaveLength(15);
    // A leak stays; a handle still closing (a replaced socket's TLS teardown, a backoff timer) goes. So wait, bounded, for
    // the counts to settle back, and report the kinds that never did.
    const kinds = ['TCPSocketWrap', 'TLSWrap', 'Timeout'];
    const grown = () => kinds.filter((k) => (resources()[k] ?? 0) > (before[k] ?? 0));
    await waitFor('handles back to their count before the restarts', () => grown().length === 0, 15_000).catch(() => undefined);
    expect(grown().map((k) => `${k}: ${resources()[k]} > ${before[k] ?? 0}`)).toEqual([]);
    await Promise.all(agents.map((a) => a.stop()));
    await relay.kill();
  });
});

/**
 * A TCP forwarder that can freeze: the link stays "connected" but nothing moves (a half-dead path).
 * It counts what the dialing side still writes once frozen (its heartbeats, one TLS write each).
 */
function freezer(targetPort: number): Promise<{ port: number; freeze(): void; writesWhileFrozen(): number; server: Server }> {
  const pairs: Array<[Socket, Socket]> = [];
  let frozen = false;
  let writes = 0;
  const server = createServer((a) => {
    const b = connect(targetPort, '127.0.0.1');
    pairs.push([a, b]);
    a.on('data', (d) => (frozen ? writes++ : b.write(d)));
    b.on('data', (d) => !frozen && a.write(d));
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        server,
        freeze: () => {
          frozen = true;
        },
        writesWhileFrozen: () => writes,
      }),
    ),
  );
}

describe('half-dead links', () => {
  // Counted in heartbeats, not milliseconds: a loaded machine delays timers, not the rule.
  it('an agent on a silent link notices within two heartbeats and reconnects', async () => {
    const c = await startCluster({ heartbeatMs: 300 });
    const fwd = await freezer(c.relay.port);
    const agent = await c.startAgent('frozen', { relay: `wss://127.0.0.1:${fwd.port}` });
    await agent.online();
    const offline = new Promise((r) => agent.relay!.once('offline', r));
    fwd.freeze();
    await withTimeout(offline, 30_000, 'the agent to notice the silent link');
    // At most the two heartbeats it sent into the silence, plus the one the tick that noticed may coalesce.
    expect(fwd.writesWhileFrozen()).toBeLessThanOrEqual(3);
    expect(agent.relay!.status().lastError).toMatch(/silent/);
    fwd.server.close();
    await c.close();
  });
});

describe('a stalled process', () => {
  it('an event loop blocked for several heartbeats does not drop healthy links (frames wait unread behind the timer)', async () => {
    const c = await startCluster({ heartbeatMs: 300 });
    const agent = await c.startAgent('staller');
    await agent.online();
    let offline = false;
    agent.relay!.once('offline', () => (offline = true));
    const client = await c.client();
    // Relay, agent and client share this process: block it for more than three heartbeats.
    const stallEnd = Date.now() + 1200;
    while (Date.now() < stallEnd) {
      // busy: the process is stalled, as on a machine starved of CPU
    }
    // Let the heartbeat checks of at least two intervals after the stall run.
    await waitFor('heartbeats after the stall', () => Date.now() > stallEnd + 900 && agent.relay!.status().lastHeartbeatMs > stallEnd + 600, 10_000);
    expect(offline).toBe(false);
    expect((await client.machines.get('staller')).presence).toBe('online');
    await c.close();
  });
});

describe('reconnect stampede', () => {
  it('the relay caps concurrent handshakes with HTTP 503 + Retry-After, and agents get in anyway', async () => {
    const { dir, cleanup } = tempDir();
    const relay = await Relay.start({ dataDir: join(dir, 'r'), port: 0, log: silentLogger(), maxHandshakes: 2, handshakeQueueMs: 500 });
    const token = (await relay.state.tokens.issue({ uses: null })).secret;
    // Two peers that say hello and then never answer the challenge hold both handshake slots.
    const squatters = await Promise.all([0, 1].map(async (i) => {
      const p = await rawPeer(relay, { role: cmdop.v1.Role.AGENT, software: 'squat', enroll: { joinToken: token, publicKey: generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }), hostname: `squat${i}` } });
      await p.next('challenge');
      return p;
    }));
    const refused = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve) => {
      const w = new WebSocket(`${relay.url}/v1/link`, { rejectUnauthorized: false });
      w.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] }));
      w.on('error', () => undefined);
    });
    // Two handshakes ahead of it and none finished lately: come back in two seconds.
    expect(refused).toEqual({ status: 503, retryAfter: '2' });
    const agent = await Agent.start({ config: config(dir, 'patient', relay.url, relay.fingerprint, token), log: silentLogger(), local: false });
    await waitFor('a refused attempt', () => /503/.test(agent.relay!.status().lastError), 5000);
    squatters.forEach((s) => s.ws.close());
    await agent.online(10_000);
    await agent.stop();
    await relay.stop();
    cleanup();
  });

  it('idle upgrades (nothing sent) are shed to make room, so squatters cannot keep agents and clients out (issue 12, defect 3)', async () => {
    const { dir, cleanup } = tempDir();
    const relay = await Relay.start({ dataDir: join(dir, 'r'), port: 0, log: silentLogger(), maxHandshakes: 4 });
    const key = (await relay.state.issueKey({ name: 'k' })).secret;
    const squatters = await Promise.all([0, 1, 2, 3].map(() => rawPeer(relay)));
    // Every slot is held by a peer that said nothing; a real client still gets in, at once.
    const client = await Client.connect({ url: relay.url, token: key, fingerprint: relay.fingerprint, timeoutMs: 5000 });
    expect(Array.isArray((await client.machines.list()).items)).toBe(true);
    const shed = await Promise.race(squatters.map((s) => s.closed.then((c) => ({ code: c.code, error: c.errors.find((e) => e.streamId === 0) }))));
    expect(shed.code).toBe(1008);
    expect(shed.error!.frame!.error!.code).toBe(cmdop.v1.ErrorCode.UNAVAILABLE);
    await client.close();
    squatters.forEach((s) => s.ws.terminate());
    await relay.stop();
    cleanup();
  });

  it('a stop ends links still waiting for a handshake slot and links that never answer the close', async () => {
    const { dir, cleanup } = tempDir();
    const relay = await Relay.start({ dataDir: join(dir, 'r'), port: 0, log: silentLogger(), maxHandshakes: 1 });
    const token = (await relay.state.tokens.issue({ uses: null })).secret;
    const squatter = await rawPeer(relay, { role: cmdop.v1.Role.AGENT, software: 'squat', enroll: { joinToken: token, publicKey: generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }), hostname: 'squat' } });
    await squatter.next('challenge');
    squatter.ws.pause(); // holds its slot, and will never read the relay's close frame
    // A second upgrade waits in the queue for the slot (its TLS session open, no answer yet).
    const waiting = new WebSocket(`${relay.url}/v1/link`, { rejectUnauthorized: false });
    waiting.on('error', () => undefined);
    const waitingClosed = new Promise((r) => waiting.once('close', r));
    await waitFor('the second upgrade to be sent', () => (waiting as unknown as { _req?: { socket?: unknown } })._req?.socket !== undefined, 5000);
    await withTimeout(relay.stop(), 20_000, 'the stop');
    await withTimeout(waitingClosed, 5000, 'the waiting upgrade to be closed');
    squatter.ws.terminate();
    cleanup();
  });

  it('one remote address cannot hold more than its share of handshake slots', async () => {
    const { dir, cleanup } = tempDir();
    const relay = await Relay.start({ dataDir: join(dir, 'r'), port: 0, log: silentLogger(), maxHandshakes: 10_000, handshakeQueueMs: 500 });
    const token = (await relay.state.tokens.issue({ uses: null })).secret;
    const hello = () => ({ role: cmdop.v1.Role.AGENT, software: 'squat', enroll: { joinToken: token, publicKey: generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }), hostname: 'squat' } });
    const held = await Promise.all(Array.from({ length: MAX_HANDSHAKES_PER_ADDRESS }, async () => {
      const p = await rawPeer(relay, hello());
      await p.next('challenge');
      return p;
    }));
    const status = await new Promise<number>((resolve) => {
      const w = new WebSocket(`${relay.url}/v1/link`, { rejectUnauthorized: false });
      w.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      w.on('error', () => undefined);
    });
    expect(status).toBe(503);
    held.forEach((s) => s.ws.terminate());
    await relay.stop();
    cleanup();
  });
});

describe('relay state', () => {
  it('survives a restart: keys, tokens and machines persist, secrets are stored only as hashes', async () => {
    const c = await startCluster();
    const agent = await c.startAgent('persist');
    await agent.online();
    await c.restartRelay();
    await agent.online(5000);
    const client = await Client.connect({ url: c.relay.url, token: c.apiKey, fingerprint: c.relay.fingerprint, timeoutMs: 5000 });
    expect((await client.machines.get('persist')).presence).toBe('online');
    await client.close();
    await c.relay.stop();
    const raw = new EmbeddedStore(join(c.dir, 'relay'));
    const text = JSON.stringify(await raw.snapshot()) + readFileSync(raw.journalPath, 'utf8') + readFileSync(raw.auditPath, 'utf8');
    expect(text).not.toContain(c.apiKey.slice(22));
    expect((await RelayState.open(raw)).listKeys().length).toBeGreaterThan(0);
    await raw.close();
    await c.relay.stop();
    await c.close();
  });
});
