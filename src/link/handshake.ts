/**
 * The handshake, both sides, in one place. The accepting side (the relay for agents and clients,
 * the agent's local socket for local clients) runs an Acceptor: the first frame must be a Hello
 * of a known major version within the handshake timeout; the acceptor's own checks (API key,
 * the agent's signed proof) run in between; then one Welcome, built here, announces this build's
 * capabilities and limits. The dialing side checks the Welcome with the same version rule
 * (connect.ts), so a version mismatch is the same typed error everywhere.
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { ProtocolError, TimeoutError, ValidationError, asCmdopError, type CmdopError } from '../errors.js';
import { CAPABILITIES, HANDSHAKE_TIMEOUT_MS, MAX_FRAME_BYTES, MAX_STREAMS_PER_LINK, PROTOCOL_MAJOR, PROTOCOL_MINOR } from '../protocol/limits.js';
import type { DecodedFrame } from '../protocol/codec.js';
import type { Logger } from '../log.js';
import { CLOSE_POLICY, type Link } from './link.js';

/** Refuses a peer of another major version, saying which side to upgrade. `us` names this side. */
export function checkVersion(major: number, minor: number, us: string): void {
  if (major === PROTOCOL_MAJOR) return;
  throw new ValidationError(`unsupported protocol version ${major}.${minor}: this ${us} speaks ${PROTOCOL_MAJOR}.x; upgrade the ${major > PROTOCOL_MAJOR ? us : 'peer'}`, { detail: 'unsupported_version' });
}

/** What a peer announced it speaks; the link's flow control follows flow.v2. */
export function applyPeerCapabilities(link: Link, capabilities: readonly string[]): ReadonlySet<string> {
  const set = new Set(capabilities);
  link.mux.peerGrantsInBatches = set.has('flow.v2');
  return set;
}

export interface WelcomeFields {
  software: string;
  heartbeatMs: number;
  machineId?: string;
  sessionId?: string;
  /** Cluster links: the acceptor's node id and its proof of the cluster secret. */
  nodeId?: string;
  peerProof?: Uint8Array;
}

export function welcomeBody(w: WelcomeFields): { welcome: cmdop.v1.IWelcome } {
  return {
    welcome: {
      major: PROTOCOL_MAJOR,
      minor: PROTOCOL_MINOR,
      software: w.software,
      capabilities: [...CAPABILITIES],
      machineId: w.machineId ?? '',
      heartbeatMs: w.heartbeatMs,
      maxFrame: MAX_FRAME_BYTES,
      maxStreams: MAX_STREAMS_PER_LINK,
      sessionId: w.sessionId ?? '',
      nodeId: w.nodeId ?? '',
      peerProof: w.peerProof ?? new Uint8Array(0),
    },
  };
}

export interface AcceptorHooks {
  /** Names this side in version errors ("relay", "agent"). */
  side: string;
  log: Logger;
  timeoutMs?: number;
  /**
   * The peer's Hello (version already checked). Call `accept` now, or later from `onFrame`
   * (after a challenge); throw a CmdopError to refuse.
   */
  onHello(hello: cmdop.v1.Hello): void | Promise<void>;
  /** Further handshake frames (the agent's proof). Throw to refuse. */
  onFrame?(f: DecodedFrame): void | Promise<void>;
}

export class Acceptor {
  private done = false;
  private helloSeen = false;
  private readonly timer: NodeJS.Timeout;
  /** What the peer announced (empty until its Hello). */
  capabilities: ReadonlySet<string> = new Set();

  constructor(private readonly link: Link, private readonly h: AcceptorHooks) {
    const ms = h.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    this.timer = setTimeout(() => link.close(new TimeoutError(`handshake not finished within ${ms} ms`), CLOSE_POLICY), ms);
    this.timer.unref();
    link.onClose(() => clearTimeout(this.timer));
  }

  get accepted(): boolean {
    return this.done;
  }

  /** The peer has sent its Hello (an idle upgrade has not). */
  get spoke(): boolean {
    return this.helloSeen;
  }

  /** Link onControl: every frame on stream 0 before the Welcome. */
  onControl(f: DecodedFrame): void {
    if (this.done) throw new ProtocolError(`unexpected ${f.kind} frame after the handshake`);
    try {
      if (f.kind === 'hello' && !this.helloSeen) {
        this.helloSeen = true;
        const hello = f.frame!.hello!;
        checkVersion(hello.major, hello.minor, this.h.side);
        this.capabilities = applyPeerCapabilities(this.link, hello.capabilities);
        const r = this.h.onHello(hello);
        // An async check (a record another relay node wrote just now) refuses the same way.
        if (r) r.catch((err: unknown) => this.refuse(asCmdopError(err, 'the handshake')));
        return;
      }
      if (this.helloSeen && this.h.onFrame) {
        const r = this.h.onFrame(f);
        // An async check (enrolment writes the store) refuses the same way when it fails.
        if (r) r.catch((err: unknown) => this.refuse(asCmdopError(err, 'the handshake')));
        return;
      }
      throw new ProtocolError(`unexpected ${f.kind} frame during the handshake`);
    } catch (err) {
      this.refuse(asCmdopError(err, 'the handshake'));
    }
  }

  /** Sends the Welcome: the link is ready for streams. */
  accept(w: WelcomeFields): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.link.sendControl(welcomeBody(w));
  }

  refuse(e: CmdopError): void {
    if (e.code === 'internal') this.h.log.error({ err: e.cause ?? e }, 'handshake failed');
    else this.h.log.info({ code: e.code, reason: e.message }, 'handshake refused');
    this.link.close(e, CLOSE_POLICY);
  }
}
