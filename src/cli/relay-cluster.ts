/**
 * `cmdop-relay` for a cluster: the serve flags that join one, and `nodes`, `drain` and `health`.
 * `nodes` and `drain` work on the shared PostgreSQL store directly, so they work from any host
 * that reaches the database, and whether or not a relay runs beside them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../platform/atomic.js';
import { PostgresStore } from '../relay/store/postgres.js';
import { readClusterSecret } from '../relay/cluster/peer-proof.js';
import { NODE_DEAD_MS, type ClusterOptions } from '../relay/cluster/node.js';
import { NotFoundError } from '../errors.js';
import { printJson, table, UsageError, type Command, type Options } from './args.js';

type Values = Record<string, string | boolean | string[] | undefined>;

export const CLUSTER_SERVE_OPTIONS: Options = {
  'cluster-listen': { type: 'string' },
  'cluster-secret': { type: 'string' },
  'cluster-advertise': { type: 'string' },
  'node-id': { type: 'string' },
};

/** This node's id: --node-id, else one made once and kept in the data dir. */
function nodeId(v: Values, dataDir: string): string {
  const given = v['node-id'] as string | undefined;
  if (given) {
    if (!/^[\w.-]{1,64}$/.test(given)) throw new UsageError('--node-id is 1-64 letters, digits and . _ -');
    return given;
  }
  const file = join(dataDir, 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = `node-${randomBytes(4).toString('hex')}`;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(file, id + '\n');
  return id;
}

/** The cluster options of `serve`, or undefined when it runs alone. */
export function clusterFromFlags(v: Values, dataDir: string, store: string | undefined): ClusterOptions | undefined {
  const listen = (v['cluster-listen'] as string | undefined) ?? process.env.CMDOP_RELAY_CLUSTER_LISTEN;
  const secretFile = (v['cluster-secret'] as string | undefined) ?? process.env.CMDOP_RELAY_CLUSTER_SECRET;
  if (!listen && !secretFile) return undefined;
  if (!listen || !secretFile) throw new UsageError('a cluster node needs both --cluster-listen ADDR and --cluster-secret FILE');
  if (!store || !/^postgres(ql)?:\/\//.test(store)) throw new UsageError('a cluster node needs --store postgres://... (the store the nodes share)');
  return { listen, secret: readClusterSecret(secretFile), nodeId: nodeId(v, dataDir), advertise: v['cluster-advertise'] as string | undefined };
}

async function withStore<T>(v: Values, fn: (s: PostgresStore) => Promise<T>): Promise<T> {
  const url = (v.store as string | undefined) ?? process.env.CMDOP_RELAY_STORE;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new UsageError('give the cluster\'s store: --store postgres://... (or CMDOP_RELAY_STORE)');
  const s = await PostgresStore.open(url, { max: 2 });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

const STORE: Options = { store: { type: 'string' }, json: { type: 'boolean' } };

export const CLUSTER_COMMANDS: Command[] = [
  {
    name: 'nodes',
    summary: 'list the relay nodes of the cluster sharing this store',
    usage: 'cmdop-relay nodes --store postgres://... [--json]',
    options: STORE,
    async run(v) {
      const nodes = await withStore(v, (s) => s.cluster.nodes());
      const state = (n: (typeof nodes)[number]) => (n.ageMs > NODE_DEAD_MS ? 'dead' : n.draining ? 'draining' : 'live');
      if (v.json) return printJson(nodes.map((n) => ({ id: n.id, state: state(n), address: n.address, url: n.publicUrl, started: new Date(n.startedMs).toISOString(), heartbeatAgeMs: n.ageMs, agents: n.agents })));
      process.stdout.write(table([['NODE', 'STATE', 'AGENTS', 'CLUSTER ADDRESS', 'URL', 'HEARTBEAT'], ...nodes.map((n) => [n.id, state(n), String(n.agents), n.address, n.publicUrl, `${n.ageMs} ms ago`])]));
    },
  },
  {
    name: 'drain',
    summary: "move a node's agents and clients to the other nodes (a rolling upgrade); --undo to stop",
    usage: 'cmdop-relay drain NODE --store postgres://... [--undo]',
    options: { ...STORE, undo: { type: 'boolean' } },
    async run(v, pos) {
      if (pos.length !== 1) throw new UsageError('drain takes one node id (see cmdop-relay nodes)');
      const ok = await withStore(v, (s) => s.cluster.setDraining(pos[0]!, !v.undo));
      if (!ok) throw new NotFoundError(`no relay node ${pos[0]} in this cluster`);
      if (v.json) return printJson({ node: pos[0], draining: !v.undo });
      process.stdout.write(v.undo ? `node ${pos[0]} takes links again\n` : `node ${pos[0]} is draining: within a second it refuses new links and moves its agents away\n`);
    },
  },
];
