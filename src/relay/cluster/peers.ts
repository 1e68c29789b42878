/**
 * This node's cluster links to the other live nodes, one per node, dialed as soon as membership
 * lists a node and redialed with jittered backoff when one drops. Each carries our multiplexed
 * protocol: streams this node's clients open to machines that node holds, one hop, payload-blind,
 * with the same per-link Outbox bounds as any link. The dialer proves the cluster secret in its
 * Proof and checks the acceptor's proof in the Welcome before the link carries anything.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { AuthError, UnavailableError, asCmdopError } from '../../errors.js';
import { backoffDelay } from '../../link/backoff.js';
import { connectLink } from '../../link/connect.js';
import type { Link } from '../../link/link.js';
import { VERSION } from '../../version.js';
import { Outbox } from '../outbox.js';
import type { RouteConn, RouteEnd } from '../router.js';
import type { NodeRow } from '../store/postgres-cluster.js';
import { exportedKey, peerProof, proofMatches } from './peer-proof.js';

/** The path of the cluster listener. */
export const PEER_PATH = '/v1/peer';
const DIAL_TIMEOUT_MS = 5000;

/** The dialing side of a cluster link, as the router sees it. */
export class PeerConn implements RouteConn {
  readonly role = 'peer-out' as const;
  readonly key = null;
  readonly keyId = '';
  readonly routes = new Map<number, RouteEnd>();
  readonly outbox: Outbox;
  capabilities: ReadonlySet<string> = new Set();
  link!: Link;
  constructor(readonly nodeId: string, readonly sessionId: string) {
    this.outbox = new Outbox({ send: (b) => this.link.send(b), bufferedAmount: () => this.link.transport.bufferedAmount });
  }
}

export interface PeerHooks {
  nodeId: string;
  secret: Buffer;
  log: Logger;
  intercept(conn: PeerConn, bytes: Uint8Array, id: number): boolean;
  /** A cluster link dropped: every stream through it ends. */
  onDown(conn: PeerConn): void;
}

interface Entry {
  address: string;
  conn: PeerConn | null;
  dialing: boolean;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  gone: boolean;
}

export class PeerLinks {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly h: PeerHooks) {}

  /** The open cluster link to a node, or null. */
  get(nodeId: string): PeerConn | null {
    const c = this.entries.get(nodeId)?.conn;
    return c && c.link.isOpen ? c : null;
  }

  /** Follows membership: dials new nodes, drops links to nodes that left. */
  sync(nodes: readonly NodeRow[]): void {
    const live = new Set<string>();
    for (const n of nodes) {
      if (n.id === this.h.nodeId) continue;
      live.add(n.id);
      const e = this.entries.get(n.id);
      if (e && e.address === n.address) continue;
      if (e) this.drop(n.id, e);
      const entry: Entry = { address: n.address, conn: null, dialing: false, attempt: 0, timer: undefined, gone: false };
      this.entries.set(n.id, entry);
      this.dial(n.id, entry);
    }
    for (const [id, e] of this.entries) if (!live.has(id)) this.drop(id, e);
  }

  private drop(id: string, e: Entry): void {
    e.gone = true;
    clearTimeout(e.timer);
    e.conn?.link.close(new UnavailableError('the relay node left the cluster'));
    this.entries.delete(id);
  }

  private dial(nodeId: string, e: Entry): void {
    if (e.gone || e.dialing) return;
    e.dialing = true;
    this.connect(nodeId, e.address)
      .then((conn) => {
        e.dialing = false;
        if (e.gone) return conn.link.close();
        e.conn = conn;
        e.attempt = 0;
        conn.link.onClose(() => {
          this.h.onDown(conn);
          if (e.conn === conn) e.conn = null;
          this.retry(nodeId, e);
        });
      })
      .catch((err: unknown) => {
        e.dialing = false;
        this.h.log.warn({ node: nodeId, address: e.address, reason: asCmdopError(err, 'a cluster link').message }, 'cluster link failed');
        this.retry(nodeId, e);
      });
  }

  private retry(nodeId: string, e: Entry): void {
    if (e.gone || e.timer) return;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      this.dial(nodeId, e);
    }, backoffDelay(e.attempt++));
    e.timer.unref();
  }

  private async connect(nodeId: string, address: string): Promise<PeerConn> {
    const conn = new PeerConn(nodeId, randomBytes(6).toString('hex'));
    const nonce = randomBytes(32);
    let acceptorNonce: Uint8Array = new Uint8Array(0);
    let ekm: Buffer = Buffer.alloc(0);
    const { link, welcome } = await connectLink({
      dial: { url: `wss://${address}${PEER_PATH}`, timeoutMs: DIAL_TIMEOUT_MS, trustByProof: true },
      log: this.h.log.child({ peer: nodeId }),
      hello: { role: cmdop.v1.Role.PEER, software: `cmdop-relay/${VERSION}`, peer: { nodeId: this.h.nodeId, nonce } },
      prove: (challenge, l) => {
        acceptorNonce = challenge;
        ekm = exportedKey(l.transport.socket);
        return peerProof('dialer', { secret: this.h.secret, ekm, dialerNonce: nonce, acceptorNonce, dialerId: this.h.nodeId, acceptorId: nodeId });
      },
      intercept: (bytes, id) => this.h.intercept(conn, bytes, id),
      onDrain: () => conn.outbox.pump(),
    });
    const expected = peerProof('acceptor', { secret: this.h.secret, ekm, dialerNonce: nonce, acceptorNonce, dialerId: this.h.nodeId, acceptorId: nodeId });
    if (welcome.nodeId !== nodeId || !proofMatches(expected, welcome.peerProof)) {
      link.close();
      throw new AuthError(`the node at ${address} did not prove the cluster secret (or is not ${nodeId})`);
    }
    conn.link = link;
    conn.capabilities = new Set(welcome.capabilities);
    return conn;
  }

  close(): void {
    for (const [id, e] of this.entries) this.drop(id, e);
  }
}
