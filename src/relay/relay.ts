/**
 * cmdop-relay: an HTTPS + WebSocket server that authenticates both ends, keeps the machines
 * registry and presence, and routes client streams to agents without reading their payload.
 * A second listener on a 0600 Unix socket in the data dir serves the admin calls used by
 * `cmdop-relay keys|tokens` while the relay runs.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { AuthError, PermissionError, UnavailableError, ValidationError } from '../errors.js';
import { DEFAULT_HEARTBEAT_MS, MAX_FRAME_BYTES } from '../protocol/limits.js';
import { CLOSE_GOING_AWAY, CLOSE_POLICY } from '../link/link.js';
import { LINK_PATH } from '../link/dial.js';
import { VERSION } from '../version.js';
import { Conn } from './conn.js';
import { OpenSockets } from './open-sockets.js';
import { Admission, busyResponse, DEFAULT_MAX_HANDSHAKES } from './admission.js';
import { removePidFile, writePidFile } from './pidfile.js';

export { DEFAULT_MAX_HANDSHAKES, MAX_HANDSHAKES_PER_ADDRESS } from './admission.js';
export { runningRelayPid } from './pidfile.js';
import { Registry } from './registry.js';
import { Router, AGENT_GONE, CLIENT_GONE, NODE_GONE } from './router.js';
import { relayServices, type RelayCtx } from './api/index.js';
import { RelayState } from './state.js';
import { openStore } from './store/open.js';
import type { RelayStore } from './store/store.js';
import { AuditLog } from './audit/log.js';
import { loadAuditIdentity, type AuditIdentity } from './audit/identity.js';
import { SchedulePush } from './schedules/push.js';
import { listenAdminSocket, listenPublic } from './http.js';
import { closeKeyLinks, enforceOnLinks } from './enforce.js';
import { ClusterNode, type ClusterOptions } from './cluster/node.js';
import { adminSocketPath, type RelayOptions } from './options.js';
import { drainLinks } from './cluster/drain.js';
import { herdCompactor, type HerdCompactor } from './heap-compactor.js';
import { admitConsoleLink, relayConsole } from './console.js';
import { CONSOLE_LINK_PATH, type ConsoleHttp } from '../console/server/console-http.js';
import type { ServiceRegistry } from '../link/services.js';

export { adminSocketPath, type RelayOptions } from './options.js';

export class Relay {
  readonly state: RelayState;
  readonly audit: AuditLog;
  readonly auditIdentity: AuditIdentity;
  readonly registry: Registry;
  readonly router: Router;
  readonly schedulePush: SchedulePush;
  /** SHA-256 fingerprint of the TLS certificate ('' with --insecure). */
  fingerprint = '';
  certPem = '';
  /** Set when this relay is one node of a cluster. */
  cluster: ClusterNode | undefined;
  /** Draining (cluster): new links are refused, live ones asked to move. */
  draining = false;
  private tlsKey = '';
  private server: Server | undefined;
  private readonly sockets = new OpenSockets();
  private closing = false;
  private adminServer: Server | undefined;
  private console: ConsoleHttp | null = null;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  private readonly conns = new Set<Conn>();
  private readonly compactor: HerdCompactor;
  private readonly services: ServiceRegistry<RelayCtx>;
  private readonly admission: Admission;
  private readonly peerAdmission: Admission;
  private readonly heartbeatMs: number;
  private readonly log: Logger;

  private constructor(private readonly opts: RelayOptions, state: RelayState, audit: AuditLog, auditIdentity: AuditIdentity) {
    this.log = opts.log;
    this.state = state;
    this.audit = audit;
    this.auditIdentity = auditIdentity;
    this.registry = new Registry(this.state);
    this.router = new Router(this.registry, audit);
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.admission = new Admission(opts.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES, opts.handshakeQueueMs);
    this.peerAdmission = new Admission(DEFAULT_MAX_HANDSHAKES);
    this.compactor = herdCompactor(this.log);
    this.schedulePush = new SchedulePush(state);
    this.services = relayServices({
      push: this.schedulePush,
      registry: this.registry,
      state: this.state,
      audit,
      auditIdentity,
      closeKeyLinks: (id) => this.closeKeyLinks(id),
      closeMachineLink: (id) => this.registry.agentConn(id)?.link.close(new PermissionError('this machine was disabled on the relay', { detail: 'machine_disabled' }), CLOSE_POLICY),
    });
  }

  static async start(opts: RelayOptions): Promise<Relay> {
    const store = await openStore(opts.store, opts.dataDir);
    let relay: Relay;
    try {
      const state = await RelayState.open(store);
      const id = loadAuditIdentity(opts.dataDir);
      relay = new Relay(opts, state, await AuditLog.open(store, id, opts.log.child({ component: 'audit' })), id);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    try {
      await relay.listen();
      if (opts.cluster) await relay.joinCluster(opts.cluster);
    } catch (err) {
      await relay.stop();
      throw err;
    }
    if (opts.auditRetentionMs) relay.audit.keepFor(opts.auditRetentionMs);
    return relay;
  }

  get store(): RelayStore {
    return this.state.store;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    const host = this.opts.host && this.opts.host !== '0.0.0.0' && this.opts.host !== '::' ? this.opts.host : '127.0.0.1';
    return `${this.opts.insecure ? 'ws' : 'wss'}://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get connections(): number {
    return this.conns.size;
  }

  private async listen(): Promise<void> {
    this.console = this.opts.ui ? relayConsole(this.state, !this.opts.insecure, this.opts.dataDir) : null;
    const health = () => ({ ready: this.ready, body: { version: VERSION, online: this.registry.onlineCount, ...(this.cluster ? { cluster: this.cluster.health() } : {}) } });
    const { server, tls } = await listenPublic(
      { dataDir: this.opts.dataDir, host: this.opts.host ?? '127.0.0.1', port: this.opts.port ?? 0, insecure: !!this.opts.insecure, certFile: this.opts.certFile, keyFile: this.opts.keyFile },
      health,
      (req, socket, head) => this.onUpgrade(req, socket, head, false),
      (req, res) => this.console?.handle(req, res) ?? false,
    );
    this.server = server;
    this.sockets.track(server);
    if (tls) {
      this.fingerprint = tls.fingerprint;
      this.certPem = tls.cert;
      this.tlsKey = tls.key;
    }
    if (this.opts.adminSocket !== false && process.platform !== 'win32') {
      this.adminServer = await listenAdminSocket(adminSocketPath(this.opts.dataDir), (req, socket, head) => this.onUpgrade(req, socket, head, true));
      this.sockets.track(this.adminServer);
    }
    if (this.opts.adminSocket !== false) writePidFile(this.opts.dataDir);
    this.log.info({ url: this.url, fingerprint: this.fingerprint || undefined, insecure: !!this.opts.insecure }, 'relay listening');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, admin: boolean): void {
    const path = (req.url ?? '').split('?')[0];
    if (path === CONSOLE_LINK_PATH && this.console && !admin) return admitConsoleLink(this.console, req, socket, (s) => this.admit(this.draining ? null : this.admission, req, socket, head, false, s.keyId));
    if (path !== LINK_PATH && !(admin && path === '/')) return void socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    // The admin socket (0600, the relay's own user) never waits behind the public listener's
    // handshake cap: an unauthenticated flood must not be able to stall a revoke.
    if (admin) return this.wss.handleUpgrade(req, socket, head, (ws) => this.onLink(ws, admin, () => undefined, 'admin.sock'));
    this.admit(this.draining ? null : this.admission, req, socket, head, false);
  }

  /** A link on the cluster listener: another node, proven with the cluster secret in its handshake. */
  private onPeerUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.admit(this.peerAdmission, req, socket, head, true);
  }

  /** Takes a handshake slot (or answers 503 with Retry-After: busy, or draining) and makes the link. */
  private admit(admission: Admission | null, req: IncomingMessage, socket: Duplex, head: Buffer, peer: boolean, sessionKey?: string): void {
    const remote = (socket as { remoteAddress?: string }).remoteAddress ?? '';
    const go = (done: () => void) => {
      if (this.closing) socket.destroy(); // stopping: no new link (it would outlive the stop)
      if (socket.destroyed) return done();
      (socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
      socket.once('close', done);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onLink(ws, false, done, remote, peer, sessionKey));
    };
    const done = admission?.admit(remote);
    if (done) return go(done);
    if (!admission) return void socket.end(busyResponse(1)); // draining: this node is going away, try another
    if (!admission.wait(remote, socket, go, () => socket.end(admission.busy()))) socket.end(admission.busy());
  }

  private async joinCluster(o: ClusterOptions): Promise<void> {
    this.cluster = await ClusterNode.join(o, {
      store: this.state.store,
      insecure: !!this.opts.insecure,
      state: this.state,
      registry: this.registry,
      tls: { cert: this.certPem, key: this.tlsKey },
      publicUrl: this.url,
      log: this.log,
      router: this.router,
      upgrade: (req, socket, head) => this.onPeerUpgrade(req, socket, head),
      enforce: () => this.enforce(),
      drain: (on) => (on ? void this.drain() : void (this.draining = false)),
    });
  }

  /** Ready for new links: listening, and in a cluster registered, heard from and not draining. */
  get ready(): boolean {
    return !this.draining && (this.cluster ? this.cluster.ready : true);
  }

  /** Refuses new links and asks live ones to move to other nodes (a rolling upgrade). */
  async drain(windowMs?: number): Promise<void> {
    this.draining = true;
    await drainLinks(() => this.conns, windowMs);
  }

  /** Closes live links that may no longer be up: revoked or expired keys, disabled machines. */
  enforce(): void {
    enforceOnLinks(this.conns, this.state);
  }

  private onLink(ws: WebSocket, admin: boolean, handshakeDone: () => void, remote: string, peer = false, sessionKey?: string): void {
    if (this.closing) return void (ws.terminate(), handshakeDone());
    const upMs = Date.now();
    const admission = peer ? this.peerAdmission : this.admission;
    const conn: Conn = new Conn(ws, {
      state: this.state,
      log: this.log,
      heartbeatMs: this.heartbeatMs,
      software: `cmdop-relay/${VERSION}`,
      admin,
      sessionKey,
      peer: peer && this.cluster ? { nodeId: this.cluster.nodeId, secret: this.opts.cluster!.secret } : undefined,
      intercept: (c, bytes, id) => this.router.intercept(c, bytes, id),
      onStream: (c, stream) => {
        if (stream.info.target) return stream.abort(new AuthError('streams to machines go through the router'));
        if (c.role === 'peer') return stream.abort(new PermissionError('a cluster link carries forwarded streams only'));
        this.services.dispatch(stream, { log: c.log, conn: c });
      },
      onAuthenticated: (c) => {
        admission.settled(c);
        handshakeDone();
        this.compactor.note();
        this.audit.emit('link.up', { role: c.role, key: c.keyId || undefined, machine: c.machineId || undefined, remote, link: c.sessionId });
        if (c.role !== 'agent') return;
        const old = this.registry.setOnline(c.machineId, c);
        if (old && old !== c) {
          old.log.info('replaced by a newer link from the same machine');
          old.link.close(new UnavailableError('replaced by a newer link from the same machine'), CLOSE_POLICY);
        }
      },
      onPing: (c, ping) => {
        if (c.role === 'agent') this.registry.seen(c.machineId, ping.summary);
      },
      onClosed: (c, err) => {
        admission.settled(c);
        handshakeDone();
        if (c.role === 'pending') {
          if (err.code === 'auth' || err.code === 'permission') this.audit.emit('auth.failed', { remote, code: err.code, reason: err.message });
        } else {
          this.audit.emit('link.down', { role: c.role, key: c.keyId || undefined, machine: c.machineId || undefined, remote, link: c.sessionId, code: err.code, reason: err.message, durationMs: Date.now() - upMs });
        }
        this.conns.delete(c);
        this.router.dropAll(c, c.role === 'agent' ? AGENT_GONE() : c.role === 'peer' ? NODE_GONE() : CLIENT_GONE());
        if (c.role === 'agent') this.registry.setOffline(c.machineId, c);
        c.log.debug({ reason: err.message }, 'link closed');
      },
    });
    this.conns.add(conn);
    if (!admin) admission.track(conn);
  }

  /** Closes every live link that authenticated with `keyId`. */
  closeKeyLinks(keyId: string): number {
    return closeKeyLinks(this.conns, keyId);
  }

  /** Stops listening and closes every link (agents see "going away" and reconnect). */
  async stop(): Promise<void> {
    // Once: a second stop must not close the store's file descriptors again (by then the numbers
    // may belong to other files or sockets of this process).
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private stopping: Promise<void> | undefined;

  private async stopOnce(): Promise<void> {
    this.closing = true; // no new link from here on (one waiting for a handshake slot would outlive the stop)
    // Leave the cluster first: the other nodes drop this node's agents at once.
    await this.cluster?.stop().catch(() => undefined);
    for (const c of this.conns) c.link.close(new UnavailableError('relay shutting down', { retryAfterMs: 0 }), CLOSE_GOING_AWAY);
    this.conns.clear();
    this.compactor.stop();
    this.schedulePush.stop();
    await this.state.dispose();
    await this.audit.stop();
    await this.state.store.close().catch(() => undefined);
    if (this.opts.adminSocket !== false) removePidFile(this.opts.dataDir);
    // The links were told to go away; one whose peer does not answer its close is cut after a grace.
    await this.sockets.close([this.server, this.adminServer]);
  }
}
