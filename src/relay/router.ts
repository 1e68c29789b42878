/**
 * Forwards client streams to agents. Payload-blind: it reads the 5-byte envelope header and the
 * frame kind, rewrites the stream id in place, and sends the same bytes on.
 *
 * Flow control is per hop at the relay: each direction of a stream is a Leg whose sender the
 * relay grants credit to itself, from the destination link's budget, as its Outbox forwards.
 * A receiver's Window frames are spent by the relay, not passed on. A peer that overruns the
 * relay's grant is a protocol error and its link is closed. So what the relay holds for a link is
 * bounded (see Outbox), and the destination's socket is never given more than it drains.
 */
import { NotFoundError, ProtocolError, RateLimitError, UnavailableError, PermissionError, asCmdopError, type CmdopError } from '../errors.js';
import { dataPayloadLength, decodeFrame, encodeFrame, patchStreamId } from '../protocol/codec.js';
import { toWireError } from '../protocol/codes.js';
import { DEFAULT_WINDOW, GRANT_BATCH, MAX_STREAMS_PER_LINK, MAX_WINDOW } from '../protocol/limits.js';
import { cmdop } from '../protocol/gen/cmdop.js';
import type { Role } from './conn.js';
import type { Registry } from './registry.js';
import type { Link } from '../link/link.js';
import type { Outbox } from './outbox.js';
import type { KeyRecord } from './store/records.js';
import { Leg } from './leg.js';
import { RELAY_STREAM_WINDOW } from './outbox.js';
import { CAPABILITIES, missingCapability } from '../control/capabilities.js';

const EVERYTHING: ReadonlySet<string> = new Set(CAPABILITIES);

/** What the audit record of a stream says (held on the client's end). */
interface StreamMeta {
  atMs: number;
  key: string;
  machine: string;
  service: string;
  method: string;
}

/**
 * A link the router forwards on: a client's, an agent's, or a cluster link to or from another
 * relay node (`peer-out`: this node dialed it, for streams to machines that node holds).
 */
export interface RouteConn {
  readonly role: Role | 'peer-out';
  readonly key: KeyRecord | null;
  readonly keyId: string;
  readonly sessionId: string;
  readonly link: Link;
  readonly routes: Map<number, RouteEnd>;
  readonly outbox: Outbox;
  readonly capabilities: ReadonlySet<string>;
}

/** One end of a forwarded stream, as seen on one link. */
export interface RouteEnd {
  conn: RouteConn;
  id: number;
  /** The direction from this end to its peer. */
  out: Leg;
  peer: RouteEnd;
  meta?: StreamMeta;
}

export interface StreamAudit {
  emit(type: string, fields: Record<string, unknown>): void;
}

const TAG_OPEN = 0x22;

export class Router {
  constructor(private readonly registry: Registry, private readonly audit: StreamAudit = { emit: () => undefined }) {}

  /** Link intercept: true if the frame belonged to a forwarded stream (or opened one). */
  intercept(conn: RouteConn, bytes: Uint8Array, id: number): boolean {
    const end = conn.routes.get(id);
    if (!end) {
      if (bytes[5] !== TAG_OPEN) return false; // relay's own stream, or a stale one: the Mux decides
      const f = decodeFrame(bytes);
      if (f.kind !== 'open' || !f.frame!.open!.target) return false;
      this.open(conn, id, f.frame!.open!);
      return true;
    }
    const peer = end.peer;
    let len = dataPayloadLength(bytes);
    if (len < 0) {
      const f = decodeFrame(bytes);
      switch (f.kind) {
        case 'data':
          len = f.data!.length;
          break;
        case 'window':
          // This end grants credit for what its peer sends: the leg peer -> end.
          end.conn.outbox.credit(peer.out, f.frame!.window!.credit);
          return true;
        case 'close':
          end.out.end(id);
          patchStreamId(bytes, peer.id);
          peer.conn.outbox.close(end.out, bytes);
          return true;
        case 'error':
          this.sendRaw(peer, bytes);
          this.remove(end, String(cmdop.v1.ErrorCode[f.frame!.error!.code] ?? 'error').toLowerCase());
          return true;
        default:
          throw new ProtocolError(`unexpected ${f.kind} frame on stream ${id}`);
      }
    }
    end.out.spend(len, id);
    patchStreamId(bytes, peer.id);
    peer.conn.outbox.data(end.out, bytes, len);
    return true;
  }

  /** A link closed: every stream through it ends, and the other side is told why. */
  dropAll(conn: RouteConn, reason: CmdopError): void {
    for (const end of conn.routes.values()) {
      this.closed(end, reason.code);
      this.sendError(end.peer.conn, end.peer.id, reason);
      end.peer.conn.routes.delete(end.peer.id);
      end.peer.conn.outbox.release(end.out);
      conn.outbox.release(end.peer.out);
    }
    conn.routes.clear();
    conn.outbox.dispose();
  }

  /** Active forwarded streams on a link. */
  count(conn: RouteConn): number {
    return conn.routes.size;
  }

  private open(from: RouteConn, id: number, open: cmdop.v1.Open): void {
    from.link.mux.noteRemoteId(id);
    try {
      // A cluster link carries streams another node routed: it checked the key and the grants.
      const viaPeer = from.role === 'peer';
      if (from.role !== 'client' && !viaPeer) throw new PermissionError('only clients may open streams to machines');
      if (from.routes.size >= MAX_STREAMS_PER_LINK) throw new RateLimitError(`too many streams on this link (limit ${MAX_STREAMS_PER_LINK})`);
      const window = open.window || DEFAULT_WINDOW;
      if (window > MAX_WINDOW) throw new ProtocolError(`window of ${window} bytes exceeds ${MAX_WINDOW}`);
      const found = viaPeer ? this.registry.resolveHere(open.target, open.caps) : this.resolve(open.target, from);
      const { machine, conn: to } = found;
      // The grant check: the key's capabilities on this machine, refused before the agent hears of it.
      const caps = found.caps ?? EVERYTHING;
      const missing = missingCapability(caps, open.service, open.method);
      if (missing) throw new PermissionError(`this key lacks the ${missing} grant on ${machine.hostname} (for ${open.service}.${open.method})`, { detail: 'missing_grant' });
      if (to.routes.size >= MAX_STREAMS_PER_LINK) throw new RateLimitError('the machine has too many open streams');
      const toId = to.link.mux.allocateId();
      // client -> agent: the protocol gives the opener the acceptor's default window, on both hops.
      const up = new Leg(toId, open.end ? 0 : DEFAULT_WINDOW, DEFAULT_WINDOW, RELAY_STREAM_WINDOW, open.end);
      // agent -> client: the relay chooses what the agent may have in flight, within the client's window.
      const downWindow = from.outbox.initialWindow(window);
      const down = new Leg(id, downWindow, window, RELAY_STREAM_WINDOW, false);
      // Receivers that grant back every GRANT_BATCH (flow.v2) let the link's in-flight bound apply.
      if (to.capabilities.has('flow.v2')) up.grantAfter = Math.min(DEFAULT_WINDOW / 2, GRANT_BATCH);
      if (from.capabilities.has('flow.v2')) down.grantAfter = Math.min(window / 2, GRANT_BATCH);
      // The audit record of a stream is the client's node's (the node a cluster link enters only forwards).
      const meta = viaPeer ? undefined : { atMs: Date.now(), key: from.keyId, machine: machine.id, service: open.service, method: open.method };
      const a = { conn: from, id, out: up, meta } as RouteEnd;
      const b: RouteEnd = { conn: to, id: toId, out: down, peer: a };
      a.peer = b;
      up.source = from.link;
      up.onGrant = (credit) => this.sendRaw(a, encodeFrame(id, { window: { credit } }));
      down.onGrant = (credit) => this.sendRaw(b, encodeFrame(toId, { window: { credit } }));
      up.onCloseSent = down.onCloseSent = () => {
        if (up.closeSent && down.closeSent) this.remove(a, 'ok');
      };
      if (!viaPeer) this.audit.emit('stream.open', { key: from.keyId || undefined, machine: machine.id, service: open.service, method: open.method, link: from.sessionId });
      to.outbox.adopt(up);
      from.outbox.adopt(down);
      from.routes.set(id, a);
      to.routes.set(toId, b);
      // The caller is the relay's word, never the client's: its API key and this link.
      // The grants too, so the agent enforces them again (an observe-only key attaching as operator).
      // Across a cluster link the target is the machine's id: the next node resolves nothing by name.
      const caller = viaPeer ? open.caller : `${from.keyId}/${from.sessionId}`;
      const target = to.role === 'peer-out' ? machine.id : open.target;
      to.link.send(encodeFrame(toId, { open: { ...open, target, window: downWindow, caller, caps: [...caps] } }));
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      const e = asCmdopError(err, 'routing a stream');
      if (from.role === 'client') this.audit.emit('stream.refused', { key: from.keyId || undefined, target: open.target, service: open.service, method: open.method, code: e.code, reason: e.message });
      this.sendError(from, id, e);
    }
  }

  /**
   * The target among the machines the key reaches. For a scoped key a machine outside its reach
   * is a PermissionError that reads the same whether or not the machine exists.
   */
  private resolve(target: string, from: RouteConn) {
    try {
      return this.registry.resolve(target, from.key);
    } catch (err) {
      if (err instanceof NotFoundError && from.key && !from.key.grants.some((g) => g.on === 'all')) {
        throw new PermissionError(`this key reaches no machine ${target} (check its grants with cmdop keys list)`, { detail: 'missing_grant' });
      }
      throw err;
    }
  }

  /** Sends a frame to an end at once, outside its Outbox (grants, errors). */
  private sendRaw(to: RouteEnd, bytes: Uint8Array): void {
    patchStreamId(bytes, to.id);
    if (to.conn.link.isOpen) to.conn.link.send(bytes);
  }

  private sendError(conn: RouteConn, id: number, err: CmdopError): void {
    if (conn.link.isOpen) conn.link.send(encodeFrame(id, { error: toWireError(err) }));
  }

  /** The stream's audit record: who, where, what, how it ended, bytes each way, how long. */
  private closed(end: RouteEnd, code: string): void {
    const client = end.meta ? end : end.peer;
    const m = client.meta;
    if (!m) return;
    client.meta = undefined;
    this.audit.emit('stream.close', { key: m.key || undefined, machine: m.machine, service: m.service, method: m.method, code, bytesUp: client.out.bytes, bytesDown: client.peer.out.bytes, durationMs: Date.now() - m.atMs });
  }

  private remove(end: RouteEnd, code: string): void {
    if (end.conn.routes.get(end.id) !== end) return;
    this.closed(end, code);
    end.conn.routes.delete(end.id);
    end.peer.conn.routes.delete(end.peer.id);
    end.peer.conn.outbox.release(end.out);
    end.conn.outbox.release(end.peer.out);
  }
}

export const AGENT_GONE = (): CmdopError => new UnavailableError('the machine disconnected', { detail: 'machine_offline' });
export const NODE_GONE = (): CmdopError => new UnavailableError('the relay node on the other side of the cluster link went away', { detail: 'node_unreachable' });
export const CLIENT_GONE = (): CmdopError => new UnavailableError('the client disconnected');
