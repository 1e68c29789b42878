/**
 * One connection to the relay: its handshake (API key for clients; challenge-response with the
 * agent's Ed25519 key for agents; enrolment with a join token), then its role.
 */
import { randomBytes, verify, type KeyObject } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { cmdop } from '../protocol/gen/cmdop.js';
import { AuthError, PermissionError, ProtocolError, ValidationError, type CmdopError } from '../errors.js';
import { MAX_STREAMS_PER_LINK } from '../protocol/limits.js';
import { CLOSE_POLICY, Link } from '../link/link.js';
import { Acceptor } from '../link/handshake.js';
import { wsTransport } from '../link/ws-transport.js';
import { ed25519PublicKey, proofMessage } from '../link/proof.js';
import type { Stream } from '../protocol/stream.js';
import type { RouteEnd } from './router.js';
import { Outbox } from './outbox.js';
import type { RelayState } from './state.js';
import type { KeyRecord, TokenRecord } from './store/records.js';
import { exportedKey, peerProof, proofMatches } from './cluster/peer-proof.js';

/** Longest single timer Node keeps (about 24.8 days); a later expiry is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `peer`: another relay node's link to this one (on the cluster listener only). */
export type Role = 'pending' | 'client' | 'agent' | 'admin' | 'peer';

/** What a cluster listener's links are checked against. */
export interface PeerTrust {
  nodeId: string;
  secret: Buffer;
}

export interface ConnHooks {
  state: RelayState;
  log: Logger;
  heartbeatMs: number;
  software: string;
  /** Connections on the admin socket are trusted by file permissions and get the admin role. */
  admin: boolean;
  /** A web console link: the key of the session its upgrade carried (the browser sends no key). */
  sessionKey?: string | undefined;
  /** Set on the cluster listener: only other nodes' links, proven with the cluster secret. */
  peer?: PeerTrust | undefined;
  intercept(conn: Conn, bytes: Uint8Array, id: number): boolean;
  onStream(conn: Conn, stream: Stream): void;
  onAuthenticated(conn: Conn): void;
  onPing(conn: Conn, ping: cmdop.v1.Ping): void;
  onClosed(conn: Conn, err: CmdopError): void;
}

interface PendingProof {
  key: KeyObject;
  nonce: Uint8Array;
  claim: string;
  token: TokenRecord | null;
  hello: cmdop.v1.Hello;
}

export class Conn {
  role: Role = 'pending';
  keyId = '';
  /** The client's key record (null for agents and the admin socket, which is trusted by its file mode). */
  key: KeyRecord | null = null;
  private expiryTimer: NodeJS.Timeout | undefined;
  machineId = '';
  /** For a peer link: the node at the other end. */
  peerNode = '';
  private peerNonces: { dialer: Uint8Array; acceptor: Uint8Array; node: string } | null = null;
  readonly link: Link;
  readonly routes = new Map<number, RouteEnd>();
  /** Forwarded frames headed to this link: bounded and taken in turns. */
  readonly outbox: Outbox;
  readonly log: Logger;
  readonly sessionId = randomBytes(6).toString('hex');
  private proof: PendingProof | null = null;
  private readonly handshake: Acceptor;

  constructor(ws: WebSocket, private readonly h: ConnHooks) {
    this.log = h.log.child({ link: this.sessionId });
    this.link = new Link(wsTransport(ws), {
      dialer: false,
      log: this.log,
      heartbeatMs: h.heartbeatMs,
      maxStreams: MAX_STREAMS_PER_LINK,
      intercept: (bytes, id) => {
        if (this.role === 'pending') throw new ProtocolError('stream frame before the handshake');
        return h.intercept(this, bytes, id);
      },
      onStream: (s) => h.onStream(this, s),
      onControl: (f) => this.handshake.onControl(f),
      onPing: (p) => h.onPing(this, p),
      onDrain: () => this.outbox.pump(),
    });
    this.outbox = new Outbox({ send: (b) => this.link.send(b), bufferedAmount: () => this.link.transport.bufferedAmount });
    this.handshake = new Acceptor(this.link, {
      side: 'relay',
      log: this.log,
      onHello: (hello) => this.onHello(hello),
      onFrame: (f) => {
        if (f.kind === 'proof' && this.proof) return this.onProof(f.frame!.proof!.signature);
        if (f.kind === 'proof' && this.peerNonces) return this.onPeerProof(f.frame!.proof!.signature);
        throw new ProtocolError(`unexpected ${f.kind} frame during the handshake`);
      },
    });
    this.link.onClose((err) => {
      clearTimeout(this.expiryTimer);
      h.onClosed(this, err);
    });
  }

  /** A key that expires while its link is up is cut at its expiry, not at the next stream. */
  private armExpiry(): void {
    const at = this.key?.expiresMs;
    if (at == null) return;
    const ms = at - this.h.state.now();
    this.expiryTimer = setTimeout(() => {
      // Re-read: another relay node may have changed the key's expiry meanwhile.
      const expires = this.key?.expiresMs;
      if (expires != null && this.h.state.now() >= expires) this.link.close(new AuthError('API key expired', { detail: 'key_expired' }), CLOSE_POLICY);
      else this.armExpiry();
    }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    this.expiryTimer.unref();
  }

  /** What the peer announced in its Hello (flow.v2: it grants back every GRANT_BATCH). */
  get capabilities(): ReadonlySet<string> {
    return this.handshake.capabilities;
  }

  /** The peer has said hello since its upgrade (an idle one may be shed under load). */
  get spoke(): boolean {
    return this.handshake.spoke;
  }

  get handshaking(): boolean {
    return this.role === 'pending';
  }

  private async onHello(hello: cmdop.v1.Hello): Promise<void> {
    if (this.h.peer) return this.onPeerHello(hello);
    if (hello.role === cmdop.v1.Role.PEER) throw new AuthError('relay nodes link on the cluster port, not here');
    if (hello.role === cmdop.v1.Role.CLIENT) {
      if (this.h.admin) return this.accept('admin', hello, {});
      if (!hello.apiKey && !this.h.sessionKey) throw new AuthError('an API key is required');
      // A key issued on another relay node a moment ago may not have reached this one's memory.
      const key = this.h.sessionKey ? this.h.state.keyInForce(this.h.sessionKey) : await this.h.state.verifyKeyFresh(hello.apiKey ?? '');
      if (!this.link.isOpen) return;
      this.keyId = key.id;
      this.key = key;
      this.armExpiry();
      return this.accept('client', hello, {});
    }
    if (hello.role !== cmdop.v1.Role.AGENT) throw new ValidationError('hello without a role');
    if (hello.agent) {
      const m = await this.h.state.machineFresh(hello.agent.machineId);
      if (!this.link.isOpen) return;
      if (!m) throw new AuthError('this machine is not enrolled on the relay; enroll it again with a join token', { detail: 'not_enrolled' });
      if (m.disabled) throw new PermissionError(`machine ${m.hostname} is disabled on the relay`, { detail: 'machine_disabled' });
      const key = ed25519PublicKey(Buffer.from(m.publicKey, 'base64'));
      if (!key) throw new AuthError('this machine\'s stored key is not an Ed25519 key; enroll it again');
      this.challenge({ key, claim: m.id, token: null, hello });
      return;
    }
    if (hello.enroll) {
      const token = await this.h.state.tokens.checkFresh(hello.enroll.joinToken);
      const key = ed25519PublicKey(hello.enroll.publicKey);
      if (!key) throw new ValidationError('enrolment public key must be an Ed25519 key in SPKI DER');
      if (!hello.enroll.hostname) throw new ValidationError('enrolment needs a hostname');
      this.challenge({ key, claim: 'enroll', token, hello });
      return;
    }
    throw new AuthError('agent hello without credentials');
  }

  private challenge(p: Omit<PendingProof, 'nonce'>): void {
    const nonce = randomBytes(32);
    this.proof = { ...p, nonce };
    this.link.sendControl({ challenge: { nonce } });
  }

  private async onProof(signature: Uint8Array): Promise<void> {
    const p = this.proof!;
    this.proof = null;
    if (!verify(null, proofMessage(p.nonce, p.claim), p.key, signature)) throw new AuthError('agent identity proof failed');
    let machineId = p.claim;
    const info = p.hello.enroll;
    if (p.token && info) {
      const spki = Buffer.from(info.publicKey).toString('base64'); // checked canonical by ed25519PublicKey
      const rec = await this.h.state.enroll(this.h.state.tokens.check(info.joinToken), {
        hostname: info.hostname,
        labels: info.labels,
        publicKey: spki,
        agentVersion: p.hello.software,
        os: info.os,
        arch: info.arch,
      });
      machineId = rec.id;
      this.log.info({ machineId, hostname: info.hostname }, 'agent enrolled');
    } else {
      this.h.state.noteVersion(machineId, p.hello.software);
    }
    if (!this.link.isOpen) return; // closed while the store wrote
    this.machineId = machineId;
    this.accept('agent', p.hello, { machineId });
  }

  /** A node's Hello on the cluster listener: challenge it for its proof of the cluster secret. */
  private onPeerHello(hello: cmdop.v1.Hello): void {
    if (hello.role !== cmdop.v1.Role.PEER || !hello.peer) throw new AuthError('only relay nodes link on the cluster port');
    const { nodeId, nonce } = hello.peer;
    if (!/^[\w.-]{1,64}$/.test(nodeId) || nonce.length !== 32) throw new ValidationError('malformed cluster hello');
    if (nodeId === this.h.peer!.nodeId) throw new AuthError('a node cannot link to itself');
    const acceptor = randomBytes(32);
    this.peerNonces = { dialer: nonce, acceptor, node: nodeId };
    this.link.sendControl({ challenge: { nonce: acceptor } });
  }

  private onPeerProof(signature: Uint8Array): void {
    const p = this.peerNonces!;
    this.peerNonces = null;
    const trust = this.h.peer!;
    const input = { secret: trust.secret, ekm: exportedKey(this.link.transport.socket), dialerNonce: p.dialer, acceptorNonce: p.acceptor, dialerId: p.node, acceptorId: trust.nodeId };
    if (!proofMatches(peerProof('dialer', input), signature)) throw new AuthError('cluster link refused: wrong cluster secret');
    this.peerNode = p.node;
    this.role = 'peer';
    this.handshake.accept({ software: this.h.software, heartbeatMs: this.h.heartbeatMs, sessionId: this.sessionId, nodeId: trust.nodeId, peerProof: peerProof('acceptor', input) });
    this.log.info({ node: p.node }, 'cluster link from a node');
    this.h.onAuthenticated(this);
  }

  private accept(role: Role, hello: cmdop.v1.Hello, extra: { machineId?: string }): void {
    this.role = role;
    this.proof = null;
    this.handshake.accept({ software: this.h.software, heartbeatMs: this.h.heartbeatMs, machineId: extra.machineId ?? '', sessionId: this.sessionId });
    this.log.info({ role, software: hello.software, machineId: extra.machineId, keyId: this.keyId || undefined }, 'link authenticated');
    this.h.onAuthenticated(this);
  }

}
