/**
 * Several real `cmdop-relay` processes on one throwaway PostgreSQL (Debian's), sharing one TLS
 * certificate and a cluster secret, on loopback, port 0, in temp dirs; real agents in process
 * given every node's URL. Nodes can be SIGKILLed and started again on the same ports.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { Client } from '../../src/client/client.js';
import { PostgresStore } from '../../src/relay/store/postgres.js';
import { silentLogger } from '../../src/log.js';
import { startPostgres, type Postgres } from '../bench/postgres.js';
import { agentConfig } from './cluster.js';
import { relayProcess, run, type Proc } from './procs.js';
import { tempDir } from './tmp.js';

export interface Node {
  id: string;
  dataDir: string;
  proc: Proc & { url: string; fingerprint: string; port: number };
  clusterPort: number;
}

export interface RelayCluster {
  dir: string;
  pg: Postgres;
  storeUrl: string;
  secretFile: string;
  nodes: Node[];
  fingerprint: string;
  /** Every node's URL, comma-separated (what agents and clients are given). */
  urls: string;
  apiKey: string;
  /** Runs `cmdop-relay` against the shared store (keys, tokens: through node 1's admin socket while it runs). */
  admin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Runs a cluster command (`nodes`, `drain`) on the shared store. */
  ctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  joinToken(): Promise<string>;
  startAgent(name: string, overrides?: Partial<AgentConfig>, extra?: Partial<AgentOptions>): Promise<Agent>;
  client(url?: string, overrides?: Parameters<typeof Client.connect>[0]): Promise<Client>;
  kill(i: number): Promise<void>;
  /** Starts node i again on its ports, data and id. */
  restart(i: number): Promise<void>;
  /** A direct connection to the shared store. */
  store(): Promise<PostgresStore>;
  close(): Promise<void>;
}

/** `heartbeat`: the agents' heartbeat; `env`: added to each node's environment (the bench's allocator). */
type NodeOptions = { heartbeat?: string | undefined; env?: NodeJS.ProcessEnv };
type NodeBase = Pick<RelayCluster, 'storeUrl' | 'secretFile' | 'dir'> & NodeOptions;

function nodeArgs(c: NodeBase, id: string, clusterPort: number, secretFile = c.secretFile): string[] {
  return [
    '--store', c.storeUrl, '--cluster-listen', `127.0.0.1:${clusterPort}`, '--cluster-secret', secretFile, '--node-id', id, '--heartbeat', c.heartbeat ?? '1s',
    '--cert', join(c.dir, 'tls', 'cert.pem'), '--key', join(c.dir, 'tls', 'key.pem'),
  ];
}

/** Starts one node process; its cluster port comes from its stderr. */
export async function startNode(c: NodeBase, id: string, port = 0, clusterPort = 0, secretFile?: string): Promise<Node> {
  const dataDir = join(c.dir, id);
  const proc = await relayProcess(dataDir, port, nodeArgs(c, id, clusterPort, secretFile), c.env);
  const [, cp] = await proc.waitFor(/cluster node \S+ on 127\.0\.0\.1:(\d+)/);
  return { id, dataDir, proc, clusterPort: Number(cp) };
}

/**
 * `heartbeat` is the agents' heartbeat (1 s by default: tests see a dead link fast); a bench of
 * thousands of agents passes the production default, or it measures 15 times the beats.
 */
export async function startRelayCluster(n = 3, o: NodeOptions = {}): Promise<RelayCluster> {
  const { dir, cleanup } = tempDir('cmdop-rc-');
  const pg = await startPostgres();
  const db = `c_${randomUUID().replaceAll('-', '')}`;
  const admin = await PostgresStore.open(pg.url);
  await (admin as unknown as { q(sql: string): Promise<unknown> }).q(`CREATE DATABASE ${db}`);
  await admin.close();
  const storeUrl = pg.url.replace(/\/postgres$/, `/${db}`);
  const secretFile = join(dir, 'cluster-secret');
  writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  // One certificate for every node (as behind one DNS name): agents pin one fingerprint.
  const fp = await run('cmdop-relay', ['fingerprint', '--data-dir', dir]);
  if (fp.code !== 0) throw new Error(fp.stderr);
  const base = { storeUrl, secretFile, dir, ...o };
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startNode(base, `n${i + 1}`));
  const agents: Agent[] = [];
  const clients: Client[] = [];
  const log = silentLogger();
  const c: RelayCluster = {
    ...base,
    pg,
    nodes,
    fingerprint: fp.stdout.trim(),
    get urls() {
      return nodes.map((x) => x.proc.url).join(',');
    },
    apiKey: '',
    admin: (args) => run('cmdop-relay', [...args, '--store', storeUrl, '--data-dir', nodes[0]!.dataDir]),
    ctl: (args) => run('cmdop-relay', [...args, '--store', storeUrl]),
    async joinToken() {
      const r = await c.admin(['tokens', 'issue', '--unlimited']);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout.trim();
    },
    async startAgent(name, overrides = {}, extra = {}) {
      const token = await c.joinToken();
      const cfg = agentConfig(dir, name, { url: c.urls, fingerprint: c.fingerprint }, token, overrides);
      const agent = await Agent.start({ config: cfg, log, ...extra });
      agents.push(agent);
      return agent;
    },
    async client(url = c.urls, overrides = {}) {
      const client = await Client.connect({ url, token: c.apiKey, fingerprint: c.fingerprint, timeoutMs: 10_000, ...overrides });
      clients.push(client);
      return client;
    },
    async kill(i) {
      await nodes[i]!.proc.kill('SIGKILL');
    },
    async restart(i) {
      const old = nodes[i]!;
      nodes[i] = await startNode(base, old.id, old.proc.port, old.clusterPort);
    },
    store: () => PostgresStore.open(storeUrl, { max: 2 }),
    async close() {
      await Promise.all(clients.map((x) => x.close()));
      await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
      await Promise.all(nodes.map((x) => x.proc.kill()));
      pg.stop();
      cleanup();
    },
  };
  const key = await c.admin(['keys', 'issue', '--name', 'test']);
  if (key.code !== 0) throw new Error(key.stderr);
  c.apiKey = key.stdout.trim();
  return c;
}
