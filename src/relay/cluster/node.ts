/**
 * One relay node's part in a cluster over PostgreSQL: its membership row and heartbeat, its
 * presence rows, the signal bus, the cluster listener (other nodes' links, authenticated with the
 * cluster secret) and its links to the other nodes. The Relay stays what it was; this only adds.
 *
 * Readiness (for a load balancer): the node has registered, its last heartbeat reached the
 * database, its signal listener is up (so its caches are trusted), and it is not draining.
 */
import { createServer, type Server } from 'node:https';
import { HTTP11_ALPN } from '../http.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log.js';
import { UnavailableError, ValidationError } from '../../errors.js';
import { OpenSockets } from '../open-sockets.js';
import type { Conn } from '../conn.js';
import type { Registry } from '../registry.js';
import type { RelayState } from '../state.js';
import { PostgresStore } from '../store/postgres.js';
import type { RelayStore } from '../store/store.js';
import { CHANGES_CHANNEL, PRESENCE_CHANNEL, type NodeRow, type PresenceNote } from '../store/postgres-cluster.js';
import { PgBus, type ChangeBus } from './bus.js';
import { PeerLinks, PEER_PATH } from './peers.js';
import { NODE_GONE, type Router } from '../router.js';
import { CLOSE_POLICY } from '../../link/link.js';
import { ClusterPresence } from './presence.js';
import { ChangeSync } from './sync.js';

/** Heartbeat interval of a node's membership row. */
export const NODE_HEARTBEAT_MS = 1000;
/** A node silent this long is dead: its agents show offline (and online again where they reconnect). */
export const NODE_DEAD_MS = 5000;

export interface ClusterOptions {
  nodeId: string;
  /** host:port of the cluster listener (port 0: any free port). */
  listen: string;
  /** host:port other nodes dial (default: the listener's). */
  advertise?: string | undefined;
  secret: Buffer;
  heartbeatMs?: number;
  deadMs?: number;
}

export interface ClusterDeps {
  store: PostgresStore;
  state: RelayState;
  registry: Registry;
  tls: { cert: string; key: string };
  publicUrl: string;
  log: Logger;
  /** Forwards the streams on the links this node dials. */
  router: Router;
  /** A cluster listener upgrade: the relay makes the link (a Conn with the cluster trust). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Close live links of revoked or expired keys and disabled machines. */
  enforce(): void;
  /** The database says this node must drain (true), or take links again (false). */
  drain(on: boolean): void;
}

export class ClusterNode {
  readonly presence: ClusterPresence;
  readonly peers: PeerLinks;
  private readonly sync: ChangeSync;
  private readonly bus: ChangeBus;
  private server!: Server;
  private readonly sockets = new OpenSockets();
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  private beatOk = false;
  /** Since when this node's heartbeats have all reached the database (0: the last one failed). */
  private healthySince = 0;
  draining = false;
  private liveKey = '';
  private nodes: NodeRow[] = [];
  private address = '';
  private readonly heartbeatMs: number;
  private readonly deadMs: number;

  /** Checks that this relay can be a node (PostgreSQL store, TLS), then joins. */
  static async join(o: ClusterOptions, d: Omit<ClusterDeps, 'store'> & { store: RelayStore; insecure: boolean }): Promise<ClusterNode> {
    if (!(d.store instanceof PostgresStore)) throw new ValidationError('a relay cluster needs the PostgreSQL store (--store postgres://...)');
    if (d.insecure) throw new ValidationError('a relay cluster needs TLS (no --insecure)');
    const node = new ClusterNode(o, { ...d, store: d.store });
    try {
      await node.start();
    } catch (err) {
      await node.stop().catch(() => undefined);
      throw err;
    }
    d.log.info({ node: o.nodeId, cluster: node.clusterAddress }, 'joined the relay cluster');
    return node;
  }

  constructor(private readonly o: ClusterOptions, private readonly d: ClusterDeps) {
    this.heartbeatMs = o.heartbeatMs ?? NODE_HEARTBEAT_MS;
    this.deadMs = o.deadMs ?? NODE_DEAD_MS;
    const db = d.store.cluster;
    d.state.loader = db;
    d.state.tokens.loader = (id) => db.token(id);
    this.peers = new PeerLinks({ nodeId: o.nodeId, secret: o.secret, log: d.log.child({ component: 'cluster' }), intercept: (c, bytes, id) => d.router.intercept(c, bytes, id), onDown: (c) => d.router.dropAll(c, NODE_GONE()) });
    this.presence = new ClusterPresence(o.nodeId, db, (m, c) => d.registry.agentConn(m) === c, {
      peer: (node) => this.peers.get(node),
      // Another node holds this machine with a newer link: this node's link is the stale one.
      stale: (_m: string, c: Conn) => c.link.close(new UnavailableError('this machine linked to another relay node'), CLOSE_POLICY),
      unreachable: (m, node) => new UnavailableError(`machine ${d.state.machine(m)?.hostname ?? m} is on relay node ${node}, which this node cannot reach now`, { detail: 'node_unreachable' }),
    }, d.log);
    d.registry.remote = this.presence;
    d.registry.onPresence((m, conn, up) => (up ? this.presence.linkUp(m, conn) : this.presence.linkDown(m, conn)));
    this.sync = new ChangeSync(d.state, d.store, db, d.enforce, d.log);
    this.bus = new PgBus(d.store.url, [CHANGES_CHANNEL, PRESENCE_CHANNEL], d.log.child({ component: 'cluster-bus' }));
  }

  get nodeId(): string {
    return this.o.nodeId;
  }

  /** The cluster listener's address as other nodes dial it. */
  get clusterAddress(): string {
    return this.address;
  }

  get ready(): boolean {
    return this.registered && this.beatOk && this.bus.listening && !this.draining;
  }

  health(): Record<string, unknown> {
    return { node: this.o.nodeId, registered: this.registered, heartbeat: this.beatOk, signals: this.bus.listening, draining: this.draining, nodes: this.nodes.length, remoteAgents: this.presence.count() };
  }

  async start(): Promise<void> {
    await this.listen();
    const db = this.d.store.cluster;
    await db.register({ id: this.o.nodeId, address: this.address, publicUrl: this.d.publicUrl, startedMs: Date.now() });
    this.registered = true;
    this.beatOk = true;
    this.healthySince = Date.now();
    await this.bus.start({
      onNote: (channel, payload) => this.onNote(channel, payload),
      onLost: () => undefined,
      onResync: () => this.resync(),
    });
    await this.membership();
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
  }

  private onNote(channel: string, payload: string): void {
    if (channel === CHANGES_CHANNEL) return this.sync.note(payload);
    try {
      this.presence.note(JSON.parse(payload) as PresenceNote);
    } catch {
      this.d.log.warn('cluster presence: an unreadable notification');
    }
  }

  /** Reloads every record and every other node's presence from the tables. */
  private async resync(): Promise<void> {
    const [rows] = await Promise.all([this.d.store.cluster.presence(), this.sync.resync()]);
    this.presence.reload(rows);
    await this.membership();
  }

  private async beat(): Promise<void> {
    const db = this.d.store.cluster;
    try {
      const hb = await db.heartbeat(this.o.nodeId, this.d.registry.onlineCount);
      if (!hb) {
        // Reaped while stalled or cut off: register again and write every row anew.
        this.d.log.warn('this node was declared dead by the cluster; registering again');
        await db.register({ id: this.o.nodeId, address: this.address, publicUrl: this.d.publicUrl, startedMs: Date.now() });
        this.presence.rewriteAll(this.d.registry.localAgents());
      } else if (hb.draining !== this.draining) {
        this.draining = hb.draining;
        this.d.log.info(hb.draining ? 'draining: agents and clients are asked to move to other nodes' : 'drain undone: taking links again');
        this.d.drain(hb.draining);
      }
      this.beatOk = true;
      this.healthySince ||= Date.now();
      // Only a node that has itself been heard for the whole dead bound may reap: after a database
      // outage every node's heartbeat is old, and the first one back must not reap the rest.
      const reaped = Date.now() - this.healthySince >= this.deadMs ? await db.reap(this.deadMs) : [];
      for (const dead of reaped) {
        this.d.log.warn({ node: dead }, 'a relay node stopped heartbeating; its agents are offline until they reconnect');
        this.presence.dropNode(dead);
      }
      await this.membership();
    } catch (err) {
      if (this.beatOk) this.d.log.warn({ reason: (err as Error).message }, 'cluster heartbeat failed');
      this.beatOk = false;
      this.healthySince = 0;
    }
  }

  private async membership(): Promise<void> {
    this.nodes = await this.d.store.cluster.nodes();
    const key = this.nodes.map((n) => `${n.id}@${n.address}`).join(',');
    if (key === this.liveKey) return;
    this.liveKey = key;
    this.peers.sync(this.nodes);
    this.presence.keepNodes(new Set(this.nodes.map((n) => n.id)));
  }

  private async listen(): Promise<void> {
    const [host, portStr] = splitHostPort(this.o.listen);
    this.server = createServer({ cert: this.d.tls.cert, key: this.d.tls.key, minVersion: 'TLSv1.3', ...HTTP11_ALPN }, (_req, res) => res.writeHead(404).end());
    this.sockets.track(this.server);
    this.server.on('upgrade', (req, socket, head) => {
      if ((req.url ?? '').split('?')[0] !== PEER_PATH) return void socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      this.d.upgrade(req, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(Number(portStr), host, () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    this.address = this.o.advertise ?? `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Leaves the cluster: other nodes drop this node's agents at once instead of after the dead bound. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.presence.stop();
    this.peers.close();
    await this.bus.stop();
    if (this.registered) await this.d.store.cluster.leave(this.o.nodeId).catch(() => undefined);
    await this.sockets.close([this.server]); // inbound node links are cut after a grace, not waited on
  }
}

/** "host:port", "[v6]:port" or ":port" (all interfaces is never a default: a host is required). */
export function splitHostPort(s: string): [string, string] {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new ValidationError(`--cluster-listen wants host:port, not ${JSON.stringify(s)}`);
  return [m[1]!, m[2]!];
}
