/**
 * Presence across relay nodes. This node writes a row for each agent link it holds (batched:
 * a reconnect herd is a few statements, not one per agent) and deletes it, at the epoch it wrote,
 * when the link goes. It keeps every other node's rows in memory, fed by notifications and by a
 * full reload on resync, and answers "who holds this machine" from memory: the highest epoch
 * among live nodes.
 *
 * A link that closed before its row was written is never written. If another node claims, with a
 * higher epoch, a machine this node still holds, this node's link is the stale one (an agent
 * keeps one link), so it is closed.
 */
import type { Logger } from '../../log.js';
import type { Conn } from '../conn.js';
import type { PgCluster, PresenceNote, PresenceRow } from '../store/postgres-cluster.js';
import type { RemotePresence } from '../registry.js';
import type { RouteConn } from '../router.js';

/** Presence writes wait this long for company (one statement for a herd). */
const BATCH_MS = 10;
/** After a failed write (the database is down), try again after this long. */
const RETRY_MS = 1000;

interface Claim { epoch: number; sinceMs: number }

export interface PresenceHooks {
  /** The cluster link to a node, if it is up. */
  peer(nodeId: string): RouteConn | null;
  /** This node's link for a machine is stale (another node holds it with a newer epoch). */
  stale(machineId: string, conn: Conn): void;
  /** The node holding a machine is not reachable from here now. */
  unreachable(machineId: string, nodeId: string): Error;
}

export class ClusterPresence implements RemotePresence {
  /** Other nodes' rows: machine -> node -> claim. */
  private readonly remote = new Map<string, Map<string, Claim>>();
  /** This node's written rows: machine -> the link and its epoch. */
  private readonly written = new Map<string, { conn: Conn; epoch: number }>();
  private readonly pendingUp = new Map<string, Conn>();
  private readonly pendingDown = new Map<string, Array<[string, number]>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private stopped = false;

  constructor(private readonly nodeId: string, private readonly db: PgCluster, private readonly isLocal: (machineId: string, conn: Conn) => boolean, private readonly h: PresenceHooks, private readonly log: Logger) {}

  // ---- RemotePresence ----

  has(machineId: string): boolean {
    return this.holder(machineId) !== undefined;
  }

  since(machineId: string): number {
    const node = this.holder(machineId);
    return node ? this.remote.get(machineId)!.get(node)!.sinceMs : 0;
  }

  route(machineId: string): RouteConn | null {
    const node = this.holder(machineId);
    if (!node) return null;
    const peer = this.h.peer(node);
    if (!peer) throw this.h.unreachable(machineId, node);
    return peer;
  }

  count(): number {
    return this.remote.size;
  }

  /** The node holding a machine by the highest epoch, if another node holds it. */
  holder(machineId: string): string | undefined {
    const claims = this.remote.get(machineId);
    if (!claims) return undefined;
    let best: string | undefined;
    let epoch = -1;
    for (const [node, c] of claims) {
      if (c.epoch > epoch) {
        epoch = c.epoch;
        best = node;
      }
    }
    return best;
  }

  // ---- this node's links ----

  linkUp(machineId: string, conn: Conn): void {
    this.pendingUp.set(machineId, conn);
    this.schedule();
  }

  linkDown(machineId: string, conn: Conn): void {
    if (this.pendingUp.get(machineId) === conn) this.pendingUp.delete(machineId);
    const w = this.written.get(machineId);
    if (w?.conn === conn) {
      this.written.delete(machineId);
      this.queueDown(machineId, w.epoch);
    }
  }

  /** This node was reaped (a long stall) and registered again: every row must be written anew. */
  rewriteAll(links: Iterable<[string, Conn]>): void {
    this.written.clear();
    this.pendingDown.clear();
    for (const [m, c] of links) this.pendingUp.set(m, c);
    this.schedule();
  }

  private queueDown(machineId: string, epoch: number): void {
    const list = this.pendingDown.get(machineId) ?? [];
    list.push([machineId, epoch]);
    this.pendingDown.set(machineId, list);
    this.schedule();
  }

  private schedule(delay = BATCH_MS): void {
    if (this.timer || this.flushing || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  /** Writes what is pending now (also at shutdown). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    let failed = false;
    try {
      const down = [...this.pendingDown.values()].flat();
      this.pendingDown.clear();
      try {
        await this.db.down(this.nodeId, down);
      } catch (err) {
        for (const [m, e] of down) this.pendingDown.set(m, [...(this.pendingDown.get(m) ?? []), [m, e]]);
        throw err;
      }
      const up = [...this.pendingUp].filter(([m, c]) => this.isLocal(m, c));
      this.pendingUp.clear();
      let epochs: Map<string, number>;
      try {
        epochs = await this.db.up(this.nodeId, up.map(([m]) => m), Date.now());
      } catch (err) {
        for (const [m, c] of up) if (!this.pendingUp.has(m)) this.pendingUp.set(m, c);
        throw err;
      }
      for (const [m, c] of up) {
        const epoch = epochs.get(m)!;
        // Closed while the write was in flight: take the row back at once.
        if (this.isLocal(m, c)) this.written.set(m, { conn: c, epoch });
        else this.queueDown(m, epoch);
      }
    } catch (err) {
      failed = true;
      this.log.warn({ reason: (err as Error).message }, 'cluster presence write failed; retrying');
    } finally {
      this.flushing = false;
    }
    if (this.pendingUp.size > 0 || this.pendingDown.size > 0) this.schedule(failed ? RETRY_MS : BATCH_MS);
  }

  // ---- other nodes' rows ----

  note(n: PresenceNote): void {
    if (n.node === this.nodeId) return;
    if ('dead' in n) return this.dropNode(n.node);
    if ('up' in n) {
      for (const [m, epoch, sinceMs] of n.up) {
        let claims = this.remote.get(m);
        if (!claims) this.remote.set(m, (claims = new Map()));
        claims.set(n.node, { epoch, sinceMs });
        const mine = this.written.get(m);
        if (mine && mine.epoch < epoch) this.h.stale(m, mine.conn);
      }
      return;
    }
    for (const [m, epoch] of n.down) {
      const claims = this.remote.get(m);
      if (claims?.get(n.node)?.epoch !== epoch) continue;
      claims.delete(n.node);
      if (claims.size === 0) this.remote.delete(m);
    }
  }

  dropNode(nodeId: string): void {
    for (const [m, claims] of this.remote) {
      if (claims.delete(nodeId) && claims.size === 0) this.remote.delete(m);
    }
  }

  /** Replaces other nodes' rows with the table's (a resync). */
  reload(rows: readonly PresenceRow[]): void {
    this.remote.clear();
    for (const r of rows) {
      if (r.nodeId === this.nodeId) continue;
      let claims = this.remote.get(r.machineId);
      if (!claims) this.remote.set(r.machineId, (claims = new Map()));
      claims.set(r.nodeId, { epoch: r.epoch, sinceMs: r.sinceMs });
    }
  }

  /** Leaves only the given nodes' rows (membership said the others are gone). */
  keepNodes(live: ReadonlySet<string>): void {
    for (const [m, claims] of this.remote) {
      for (const node of claims.keys()) if (!live.has(node)) claims.delete(node);
      if (claims.size === 0) this.remote.delete(m);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
