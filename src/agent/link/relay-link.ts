/**
 * The agent's link to its relay: dial out, prove identity (enrolling once with a join token),
 * serve streams, and reconnect forever with exponential backoff and full jitter. The state and
 * last error are kept for `cmdop-agent status`, because "service running but shown offline" must
 * be diagnosable from the host.
 */
import { EventEmitter } from 'node:events';
import { arch, platform } from 'node:os';
import type { Logger } from '../../log.js';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { CmdopError, UnavailableError, ValidationError, asCmdopError } from '../../errors.js';
import { callUnary } from '../../link/call.js';
import type { FrameBody } from '../../protocol/codec.js';
import type { Stream } from '../../protocol/stream.js';
import { backoffDelay } from '../../link/backoff.js';
import { connectLink } from '../../link/connect.js';
import type { Link } from '../../link/link.js';
import { proofMessage } from '../../link/proof.js';
import { VERSION } from '../../version.js';
import { RelayList } from '../../link/relays.js';
import type { Identity } from '../identity.js';

/** A link that stayed up this long resets the backoff; a flapping one keeps backing off. */
export const STABLE_LINK_MS = 10_000;
/** Bound on dialing plus handshake. */
export const CONNECT_TIMEOUT_MS = 15_000;
/** Calls to the relay's own services (audit upload). */
const RELAY_CALL_TIMEOUT_MS = 30_000;

export type LinkState = 'idle' | 'connecting' | 'online' | 'backoff' | 'stopped';

export interface RelayLinkOptions {
  /** One relay URL, or several nodes' comma-separated (the agent spreads and fails over). */
  url: string;
  fingerprint?: string | undefined;
  caFile?: string | undefined;
  insecure?: boolean;
  identity: Identity;
  joinToken?: string | undefined;
  hostname: string;
  labels: Record<string, string>;
  log: Logger;
  onStream: (stream: Stream) => void;
  pingBody?: () => FrameBody;
  random?: () => number;
  connectTimeoutMs?: number;
  /** The local address to dial from (a multi-homed host's interface). */
  localAddress?: string | undefined;
}

export interface RelayLinkStatus {
  state: LinkState;
  relayUrl: string;
  machineId: string;
  lastError: string;
  lastErrorMs: number;
  lastHeartbeatMs: number;
  onlineSinceMs: number;
  reconnects: number;
  activeStreams: number;
}

export class RelayLink extends EventEmitter {
  state: LinkState = 'idle';
  private link: Link | null = null;
  private stopped = false;
  private lastError = '';
  private lastErrorMs = 0;
  private onlineSinceMs = 0;
  private reconnects = 0;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly log: Logger;
  /** What the relay announced in its Welcome (grants.v1: it stamps each stream's capabilities). */
  private relayCaps: ReadonlySet<string> = new Set();
  private readonly relays: RelayList;

  constructor(private readonly o: RelayLinkOptions) {
    super();
    this.log = o.log.child({ component: 'relay-link' });
    this.relays = new RelayList(o.url, o.random);
  }

  start(): void {
    this.loop ??= this.run();
  }

  speaks(capability: string): boolean {
    return this.relayCaps.has(capability);
  }

  get online(): boolean {
    return this.state === 'online' && !!this.link?.isOpen;
  }

  /** A call to a service the relay answers itself (the audit upload). */
  unary(service: string, method: string, request: Uint8Array): Promise<Uint8Array> {
    if (!this.link?.isOpen) return Promise.reject(new UnavailableError('not connected to the relay'));
    return callUnary(this.link, service, method, request, { timeoutMs: RELAY_CALL_TIMEOUT_MS });
  }

  /** A long-lived stream to a relay service (the schedule watch); it ends with the link. */
  openStream(service: string, method: string, request: Uint8Array): Stream {
    if (!this.link?.isOpen) throw new UnavailableError('not connected to the relay');
    return this.link.open({ target: '', service, method, request, end: true });
  }

  get machineId(): string {
    return this.o.identity.enrollment()?.machineId ?? '';
  }

  status(): RelayLinkStatus {
    return {
      state: this.state,
      relayUrl: this.relays.current,
      machineId: this.machineId,
      lastError: this.lastError,
      lastErrorMs: this.lastErrorMs,
      lastHeartbeatMs: this.link?.isOpen ? this.link.lastReceived : 0,
      onlineSinceMs: this.state === 'online' ? this.onlineSinceMs : 0,
      reconnects: this.reconnects,
      activeStreams: this.link?.isOpen ? this.link.mux.size : 0,
    };
  }

  /** Closes the link and ends the reconnect loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    this.link?.close();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      this.state = 'connecting';
      let upSince = 0;
      let moveMs = -1;
      try {
        const link = await this.connect();
        if (this.stopped) {
          link.close();
          break;
        }
        upSince = Date.now();
        this.onlineSinceMs = upSince;
        this.link = link;
        this.state = 'online';
        this.log.info({ relay: this.relays.current, machineId: this.machineId }, 'online');
        this.emit('online');
        const reason = await new Promise<CmdopError>((resolve) => link.onClose(resolve));
        this.link = null;
        if (this.stopped) break;
        this.noteError(reason, 'link lost');
        this.emit('offline', reason);
        // A draining node asks us to move: to another node, spread over its retry-after hint.
        if (reason.detail === 'relay_draining') moveMs = reason.retryAfterMs ?? 1000;
      } catch (err) {
        const e = asCmdopError(err, 'connecting to the relay');
        this.noteError(e, 'connect failed');
        // A busy relay says when to come back (503 Retry-After): that, spread, without growing the backoff.
        if (e.retryAfterMs) moveMs = e.retryAfterMs;
      }
      if (this.stopped) break;
      this.relays.failover();
      if (upSince && Date.now() - upSince >= STABLE_LINK_MS) attempt = 0;
      const delay = moveMs >= 0 ? Math.floor((0.5 + (this.o.random ?? Math.random)()) * moveMs) : backoffDelay(attempt++, this.o.random);
      this.reconnects++;
      this.state = 'backoff';
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
    this.state = 'stopped';
  }

  private noteError(err: CmdopError, what: string): void {
    this.lastError = `${err.code}: ${err.message}`;
    this.lastErrorMs = Date.now();
    this.log.warn({ code: err.code, reason: err.message }, what);
    // The relay no longer knows this machine (its state was reset): enrol again if we have a token.
    if (err.detail === 'not_enrolled' && this.o.joinToken) this.o.identity.clearEnrollment();
  }

  private async connect(): Promise<Link> {
    const id = this.o.identity;
    const enrolled = id.enrollment();
    let hello: cmdop.v1.IHello;
    let claim: string;
    if (enrolled) {
      hello = { role: cmdop.v1.Role.AGENT, software: `cmdop-agent/${VERSION}`, agent: { machineId: enrolled.machineId } };
      claim = enrolled.machineId;
    } else {
      if (!this.o.joinToken) throw new ValidationError('this host is not enrolled: run with --token <join token> once (cmdop-relay tokens issue)');
      hello = {
        role: cmdop.v1.Role.AGENT,
        software: `cmdop-agent/${VERSION}`,
        enroll: { joinToken: this.o.joinToken, publicKey: id.publicKeyDer, hostname: this.o.hostname, labels: this.o.labels, os: platform(), arch: arch() },
      };
      claim = 'enroll';
    }
    const { link, welcome } = await connectLink({
      dial: { url: this.relays.current, fingerprint: this.o.fingerprint, caFile: this.o.caFile, insecure: this.o.insecure, timeoutMs: this.o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, localAddress: this.o.localAddress },
      log: this.log,
      hello,
      prove: (nonce) => id.sign(proofMessage(nonce, claim)),
      onStream: this.o.onStream,
      pingBody: this.o.pingBody,
    });
    this.relayCaps = new Set(welcome.capabilities);
    if (!enrolled) {
      id.saveEnrollment({ machineId: welcome.machineId, relayUrl: this.relays.current, enrolledMs: Date.now() });
      this.log.info({ machineId: welcome.machineId }, 'enrolled with the relay');
    }
    return link;
  }
}
