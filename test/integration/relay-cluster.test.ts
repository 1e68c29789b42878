/**
 * Issue 19: several relay nodes on one PostgreSQL (Debian's, a throwaway cluster), as real
 * processes; real agents given every node's URL; clients on each node. How fast things happen is
 * a bench figure (test/bench/relay-nodes.ts); here only that they do, with generous bounds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import type { Agent } from '../../src/agent/agent.js';
import { startRelayCluster, type RelayCluster } from '../helpers/relay-cluster.js';
import { waitFor } from '../helpers/wait.js';

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
