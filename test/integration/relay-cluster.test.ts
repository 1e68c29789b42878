/**
 * Issue 19: several relay nodes on one PostgreSQL (Debian's, a throwaway cluster), as real
 * processes; real agents given every node's URL; clients on each node. How fast things happen is
 * a bench figure (test/bench/relay-nodes.ts); here only that they do, with generous bounds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { Agent } from '../../src/agent/agent.js';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { startNode, startRelayCluster, type Node, type RelayCluster } from '../helpers/relay-cluster.js';
import { run } from '../helpers/procs.js';
import { rawPeer } from '../helpers/raw.js';
import type { Relay } from '../../src/relay/relay.js';
import { rejection, waitFor, withTimeout } from '../helpers/wait.js';
import { tap } from '../helpers/term.js';
import { PeerLinks } from '../../src/relay/cluster/peers.js';
import { readClusterSecret } from '../../src/relay/cluster/peer-proof.js';
import { callUnary } from '../../src/link/call.js';
import { silentLogger } from '../../src/log.js';

let c: RelayCluster;
const agents: Agent[] = [];
const N_AGENTS = 30;

beforeAll(async () => {
  c = await startRelayCluster(3);
  for (let i = 0; i < N_AGENTS; i++) agents.push(await c.startAgent(`m${i}`, {}, { local: false }));
  await Promise.all(agents.map((a) => a.online(30_000)));
}, 180_000);
afterAll(async () => {
  await c?.close();
});

/** Which node holds each agent's link now (by the agent's own status). */
function nodeOf(a: Agent): number {
  const url = a.relay!.status().relayUrl;
  return c.nodes.findIndex((n) => n.proc.url === url);
}

function echoServer(): Promise<Server> {
  const s = createServer((sock) => {
    sock.on('error', () => undefined); // the client end resets it when the test is done
    sock.pipe(sock);
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

describe('three relay nodes on one PostgreSQL', () => {
  it('agents spread over the nodes, and a client on every node reaches every agent: exec, terminal, files, tunnel', async () => {
    const perNode = [0, 1, 2].map((i) => agents.filter((a) => nodeOf(a) === i).length);
    expect(perNode.reduce((x, y) => x + y)).toBe(N_AGENTS);
    for (const n of perNode) expect(n).toBeGreaterThan(0);
    const echo = await echoServer();
    const port = (echo.address() as { port: number }).port;
    for (const node of c.nodes) {
      const client = await c.client(node.proc.url);
      // Presence: every node sees every agent online, wherever its link is.
      const online = await waitFor('all agents online from this node', async () => {
        const page = await client.machines.list({ presence: 'online', limit: 100 });
        return page.items.length === N_AGENTS && page.items;
      }, 30_000);
      expect(online).toHaveLength(N_AGENTS);
      for (let i = 0; i < N_AGENTS; i++) {
        client.terminal.setMachine(`m${i}`);
        expect(await client.terminal.execute(`echo hello-$((${i} * 2))`)).toMatchObject({ exitCode: 0, output: `hello-${i * 2}\n` });
      }
      // One agent on another node than this client's: a terminal, a file round trip and a tunnel.
      const far = agents.findIndex((a) => c.nodes[nodeOf(a)] !== node);
      client.terminal.setMachine(`m${far}`);
      client.files.setMachine(`m${far}`);
      const m = client;
      const s = await m.terminal.create({ shell: '/bin/sh', args: ['-c', 'read x; echo "got:$x"; sleep 30'] });
      const t = m.terminal.stream();
      let out = '';
      t.onLiveOutput((b) => (out += Buffer.from(b).toString()));
      await t.attach(s.id);
      t.sendInput('across\n');
      await waitFor('the terminal echo across nodes', () => out.includes('got:across'), 20_000);
      await m.terminal.close(s.id);
      const data = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a);
      const path = `${c.dir}/m${far}/roundtrip.bin`;
      await m.files.write(path, data);
      expect((await m.files.read(path)).equals(data)).toBe(true);
      const tunnel = await client.tunnels.open(`m${far}`, { remotePort: port });
      const sock = tcpConnect(tunnel.localPort, '127.0.0.1');
      const got = await new Promise<string>((resolve) => {
        let acc = '';
        sock.on('data', (d) => {
          acc += d.toString();
          if (acc.length >= 5) resolve(acc);
        });
        sock.write('ping!');
      });
      expect(got).toBe('ping!');
      sock.destroy();
      await tunnel.close();
    }
    echo.close();
  }, 180_000);
});

/** GET a node's /healthz or /readyz, trusting the cluster's one certificate. */
function probe(node: Node, path: '/healthz' | '/readyz'): Promise<{ status: number; body: Record<string, unknown> }> {
  const ca = readFileSync(join(c.dir, 'tls', 'cert.pem'));
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: node.proc.port, path, ca }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> }));
    }).on('error', reject);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const exec = promisify(execFile);
const sha256File = async (path: string) => (await exec('sha256sum', [path])).stdout.split(' ')[0]!;

describe('cluster faults', () => {
  it('a key revoked on node A closes its live links on nodes B and C', async () => {
    const issued = await c.admin(['keys', 'issue', '--name', 'doomed']);
    const secret = issued.stdout.trim();
    const onB = await c.client(c.nodes[1]!.proc.url, { token: secret, autoReconnect: false });
    const onC = await c.client(c.nodes[2]!.proc.url, { token: secret, autoReconnect: false });
    const closed = [onB, onC].map((x) => new Promise<{ code?: string }>((r) => x.on('disconnect', (e) => r(e as { code?: string }))));
    const t0 = Date.now();
    // Through node A's admin socket: node A writes the store; B and C hear of it by NOTIFY.
    const r = await run('cmdop-relay', ['keys', 'revoke', secret.split('_')[1]!, '--data-dir', c.nodes[0]!.dataDir]);
    expect(r.code).toBe(0);
    const errs = await withTimeout(Promise.all(closed), 10_000, 'the revoked key\'s links on B and C to close');
    console.log(`[figure] revoked on A -> links on B and C closed after ${Date.now() - t0} ms (the revoke CLI included)`);
    for (const e of errs) expect(e).toMatchObject({ code: 'auth' });
    await expect(c.client(c.nodes[2]!.proc.url, { token: secret })).rejects.toThrow(/revoked/);
  }, 60_000);

  it('a forged node (wrong cluster secret) cannot link to the cluster or forward to its agents', async () => {
    const wrong = join(c.dir, 'wrong-secret');
    writeFileSync(wrong, randomBytes(32).toString('hex'), { mode: 0o600 });
    const forged = await startNode(c, 'forged', 0, 0, wrong);
    try {
      // The honest nodes refuse its links, and it refuses theirs (neither proves the secret to the other).
      await forged.proc.waitFor(/wrong cluster secret|did not prove the cluster secret/, 20_000);
      const client = await c.client(forged.proc.url);
      client.terminal.setMachine('m0');
      const err = await rejection(client.terminal.execute('echo should-not-run'));
      expect(err).toMatchObject({ code: 'unavailable', detail: 'node_unreachable' });
      // The public port never takes a node's hello at all.
      const p = await rawPeer({ url: c.nodes[0]!.proc.url } as Relay, { role: cmdop.v1.Role.PEER, software: 'forged', peer: { nodeId: 'x', nonce: randomBytes(32) } });
      const { errors } = await p.closed;
      expect(errors[0]?.frame?.error).toMatchObject({ code: cmdop.v1.ErrorCode.AUTH });
    } finally {
      await forged.proc.kill();
    }
  }, 60_000);

  it('a cluster link (with the right secret) carries forwarded streams only: the relay\'s own services refuse it', async () => {
    const peers = new PeerLinks({ nodeId: 'tester', secret: readClusterSecret(c.secretFile), log: silentLogger(), intercept: () => false, onDown: () => undefined });
    try {
      peers.sync([{ id: 'n1', address: `127.0.0.1:${c.nodes[0]!.clusterPort}`, publicUrl: '', startedMs: 0, ageMs: 0, draining: false, agents: 0 }]);
      const link = await waitFor('the cluster link to n1', () => peers.get('n1'), 20_000);
      const err = await rejection(callUnary(link.link, 'admin', 'keys.list', cmdop.v1.Empty.encode({}).finish(), { timeoutMs: 10_000 }));
      expect(err).toMatchObject({ code: 'permission' });
    } finally {
      peers.close();
    }
  }, 60_000);

  it('PostgreSQL restarted: existing streams keep flowing, what needs the database is unavailable, and the nodes recover', async () => {
    const client = await c.client(c.nodes[0]!.proc.url);
    const far = agents.findIndex((a) => nodeOf(a) === 1);
    client.terminal.setMachine(`m${far}`);
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', 'while read x; do echo "got:$x"; done'] });
    const t = client.terminal.stream();
    let out = '';
    t.onLiveOutput((b) => (out += Buffer.from(b).toString()));
    await t.attach(s.id);
    c.pg.down();
    try {
      t.sendInput('during\n');
      await waitFor('an echo through two nodes with the database down', () => out.includes('got:during'), 20_000);
      const err = await rejection(client.keys.issue({ name: 'needs-db' }));
      expect(err).toMatchObject({ code: 'unavailable' });
      await waitFor('node readiness to drop', async () => (await probe(c.nodes[0]!, '/readyz')).status === 503, 20_000);
    } finally {
      c.pg.up();
    }
    for (const node of c.nodes) await waitFor(`${node.id} ready again`, async () => (await probe(node, '/readyz')).status === 200, 30_000);
    t.sendInput('after\n');
    await waitFor('the echo after recovery', () => out.includes('got:after'), 20_000);
    const k = await client.keys.issue({ name: 'after-recovery' });
    expect(k.key.id).toBeTruthy();
    await client.terminal.close(s.id);
  }, 120_000);

  it('drain empties a node: each agent moves in one reconnect, and new links are refused meanwhile', async () => {
    const on2 = agents.filter((a) => nodeOf(a) === 1);
    expect(on2.length).toBeGreaterThan(0);
    const before = new Map(on2.map((a) => [a, a.relay!.status().reconnects]));
    const r = await c.ctl(['drain', 'n2']);
    expect(r.code).toBe(0);
    await waitFor('n2 to be empty', () => on2.every((a) => a.relay!.online && nodeOf(a) !== 1), 30_000);
    // One reconnect each: the first attempt after the move landed (no agent went into backoff).
    for (const a of on2) expect(a.relay!.status().reconnects).toBe(before.get(a)! + 1);
    expect((await probe(c.nodes[1]!, '/readyz')).status).toBe(503);
    const nodes = JSON.parse((await c.ctl(['nodes', '--json'])).stdout) as Array<{ id: string; state: string }>;
    expect(nodes.find((n) => n.id === 'n2')?.state).toBe('draining');
    expect((await c.ctl(['drain', 'n2', '--undo'])).code).toBe(0);
    await waitFor('n2 ready again', async () => (await probe(c.nodes[1]!, '/readyz')).status === 200, 20_000);
  }, 90_000);

  it('SIGKILL of the node holding an agent: the terminal resumes with no lost byte, the download fails cleanly and cp --resume completes it', async () => {
    // The client stays on node 1; the agent is on node 3.
    const idx = agents.findIndex((a) => nodeOf(a) === 2);
    expect(idx).toBeGreaterThanOrEqual(0);
    const name = `m${idx}`;
    const client = await c.client(c.nodes[0]!.proc.url);
    client.terminal.setMachine(name);
    client.files.setMachine(name);
    const big = join(c.dir, name, 'big.bin');
    // Made and hashed by child processes: a 256 MiB buffer in this process would stall the
    // in-process agents' event loop past their heartbeat.
    await exec('sh', ['-c', `head -c ${256 * 1024 * 1024} /dev/urandom > '${big}'`]);
    const bigSha = await sha256File(big);
    const N = 400_000;
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', `stty -echo; read x; seq 1 ${N}; read y`] });
    const want = Array.from({ length: N }, (_v, i) => `${i + 1}\r\n`).join('');
    const t = client.terminal.stream();
    const out = tap(t);
    await t.attach(s.id);
    const local = join(c.dir, 'big.copy');
    let killed = false;
    const download = client.files.download(big, local, {
      resumable: true,
      onProgress: (done) => {
        if (!killed && done > 48 * 1024 * 1024) {
          killed = true;
          void c.kill(2);
        }
      },
    });
    t.sendInput('\n');
    const err = await rejection(download);
    expect(err).toMatchObject({ code: 'unavailable' });
    expect(existsSync(local)).toBe(false);
    await waitFor('the agent online on another node', () => agents[idx]!.relay!.online && nodeOf(agents[idx]!) !== 2, 30_000);
    await waitFor('every terminal byte', () => out.bytes() >= want.length, 60_000);
    expect(out.gaps).toEqual([]);
    expect(out.holes()).toBe(0);
    expect(out.sha256()).toBe(sha(Buffer.from(want)));
    const cp = await run('cmdop', ['cp', '--resume', '--quiet', `${name}:${big}`, local], { CMDOP_BASE_URL: c.nodes[0]!.proc.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.fingerprint });
    expect(cp.stderr).toBe('');
    expect(cp.code).toBe(0);
    expect(await sha256File(local)).toBe(bigSha);
    await client.terminal.close(s.id);
    await c.restart(2);
  }, 180_000);

  it('a client given every node fails over when its node dies, and its terminal resumes through another node with no lost byte', async () => {
    const idx = agents.findIndex((a) => nodeOf(a) === 0);
    const name = `m${idx}`;
    // The client may start on nodes 2 and 3 only: the agent stays on node 1, the client's node is killed.
    const client = await c.client(`${c.nodes[1]!.proc.url},${c.nodes[2]!.proc.url}`);
    // Which node it landed on (its socket's remote port): a test-only look inside.
    const port = (client as unknown as { conn: { link: { transport: { socket: { remotePort: number } } } } }).conn.link.transport.socket.remotePort;
    const victim = c.nodes.findIndex((n) => n.proc.port === port);
    expect(victim === 1 || victim === 2).toBe(true);
    client.terminal.setMachine(name);
    const N = 300_000;
    const want = Array.from({ length: N }, (_v, i) => `${i + 1}\r\n`).join('');
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', `stty -echo; read x; seq 1 ${N}; read y`] });
    const t = client.terminal.stream();
    const out = tap(t);
    await t.attach(s.id);
    t.sendInput('\n');
    await waitFor('some output', () => out.bytes() > 200_000, 20_000);
    await c.kill(victim);
    await waitFor('every terminal byte', () => out.bytes() >= want.length, 60_000);
    expect(out.reconnects()).toBeGreaterThanOrEqual(1);
    expect(out.gaps).toEqual([]);
    expect(out.holes()).toBe(0);
    expect(out.sha256()).toBe(sha(Buffer.from(want)));
    await client.terminal.close(s.id);
    await c.restart(victim);
  }, 120_000);
});
