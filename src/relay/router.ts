/**
 * Forwards client streams to agents. Payload-blind: it reads the 5-byte envelope header and the
 * frame kind, rewrites the stream id in place, and sends the same bytes on. It keeps each
 * direction's flow-control credit from the Window frames it forwards, so a peer that overruns
 * its window is caught here and its link closed: what the relay holds per stream is bounded by
 * the window.
 */
import { ProtocolError, RateLimitError, UnavailableError, PermissionError, asCmdopError, type CmdopError } from '../errors.js';
import { dataPayloadLength, decodeFrame, encodeFrame, patchStreamId } from '../protocol/codec.js';
import { toWireError } from '../protocol/codes.js';
import { DEFAULT_WINDOW, MAX_STREAMS_PER_LINK, MAX_WINDOW } from '../protocol/limits.js';
import type { cmdop } from '../protocol/gen/cmdop.js';
import type { Conn } from './conn.js';
import type { Registry } from './registry.js';

/** One end of a forwarded stream, as seen on one link. */
export interface RouteEnd {
  conn: Conn;
  id: number;
  /** Bytes this end may still send to the other end. */
  credit: number;
  ended: boolean;
  peer: RouteEnd;
}

const TAG_OPEN = 0x22;

export class Router {
  constructor(private readonly registry: Registry) {}

  /** Link intercept: true if the frame belonged to a forwarded stream (or opened one). */
  intercept(conn: Conn, bytes: Uint8Array, id: number): boolean {
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
        case 'window': {
          const credit = f.frame!.window!.credit;
          if (credit <= 0 || peer.credit + credit > MAX_WINDOW) throw new ProtocolError(`invalid window grant of ${credit} bytes`);
          peer.credit += credit;
          return this.send(peer, bytes);
        }
        case 'close':
          if (end.ended) throw new ProtocolError(`duplicate close on stream ${id}`);
          end.ended = true;
          this.send(peer, bytes);
          if (peer.ended) this.remove(end);
          return true;
        case 'error':
          this.send(peer, bytes);
          this.remove(end);
          return true;
        default:
          throw new ProtocolError(`unexpected ${f.kind} frame on stream ${id}`);
      }
    }
    if (end.ended) throw new ProtocolError(`data after close on stream ${id}`);
    end.credit -= len;
    if (end.credit < 0) throw new ProtocolError(`peer overran its flow-control window on stream ${id}`);
    return this.send(peer, bytes);
  }

  /** A link closed: every stream through it ends, and the other side is told why. */
  dropAll(conn: Conn, reason: CmdopError): void {
    for (const end of conn.routes.values()) {
      this.sendError(end.peer.conn, end.peer.id, reason);
      end.peer.conn.routes.delete(end.peer.id);
    }
    conn.routes.clear();
  }

  /** Active forwarded streams on a link. */
  count(conn: Conn): number {
    return conn.routes.size;
  }

  private open(from: Conn, id: number, open: cmdop.v1.Open): void {
    from.link.mux.noteRemoteId(id);
    try {
      if (from.role !== 'client') throw new PermissionError('only clients may open streams to machines');
      if (from.routes.size >= MAX_STREAMS_PER_LINK) throw new RateLimitError(`too many streams on this link (limit ${MAX_STREAMS_PER_LINK})`);
      const window = open.window || DEFAULT_WINDOW;
      if (window > MAX_WINDOW) throw new ProtocolError(`window of ${window} bytes exceeds ${MAX_WINDOW}`);
      const to = this.registry.resolve(open.target);
      if (to.routes.size >= MAX_STREAMS_PER_LINK) throw new RateLimitError('the machine has too many open streams');
      const toId = to.link.mux.allocateId();
      const a: RouteEnd = { conn: from, id, credit: DEFAULT_WINDOW, ended: open.end, peer: undefined as unknown as RouteEnd };
      const b: RouteEnd = { conn: to, id: toId, credit: window, ended: false, peer: a };
      a.peer = b;
      from.routes.set(id, a);
      to.routes.set(toId, b);
      // The caller is the relay's word, never the client's: its API key and this link.
      to.link.send(encodeFrame(toId, { open: { ...open, window, caller: `${from.keyId}/${from.sessionId}` } }));
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      this.sendError(from, id, asCmdopError(err, 'routing a stream'));
    }
  }

  private send(to: RouteEnd, bytes: Uint8Array): true {
    patchStreamId(bytes, to.id);
    if (to.conn.link.isOpen) to.conn.link.send(bytes);
    return true;
  }

  private sendError(conn: Conn, id: number, err: CmdopError): void {
    if (conn.link.isOpen) conn.link.send(encodeFrame(id, { error: toWireError(err) }));
  }

  private remove(end: RouteEnd): void {
    end.conn.routes.delete(end.id);
    end.peer.conn.routes.delete(end.peer.id);
  }
}

export const AGENT_GONE = (): CmdopError => new UnavailableError('the machine disconnected', { detail: 'machine_offline' });
export const CLIENT_GONE = (): CmdopError => new UnavailableError('the client disconnected');
