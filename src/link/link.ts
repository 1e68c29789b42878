/**
 * A Link is one WebSocket carrying the multiplexed protocol: it decodes frames, feeds the Mux,
 * answers pings, and declares the link dead when nothing has arrived for two heartbeats.
 * Used by the agent, the client and the relay alike.
 */
import type { Logger } from '../log.js';
import type { Transport } from './transport.js';
import { CmdopError, ConnectionError, ProtocolError, UnavailableError, asCmdopError } from '../errors.js';
import { decodeFrame, type DecodedFrame, type FrameBody } from '../protocol/codec.js';
import { fromWireError, toWireError } from '../protocol/codes.js';
import { Mux, type MuxOptions } from '../protocol/mux.js';
import type { Stream } from '../protocol/stream.js';

/** WebSocket close codes we use. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_POLICY = 1008;
/**
 * A heartbeat tick later than this many intervals means this process was stalled, not the peer
 * silent: the check waits a tick so frames that arrived meanwhile are read first.
 */
const STALL_FACTOR = 1.5;

export interface LinkOptions extends MuxOptions {
  log: Logger;
  /** Ping interval; the link is dead after 2x this with nothing received. 0 disables. */
  heartbeatMs: number;
  /** Frames on stream 0 other than ping/pong/error (handshake). */
  onControl?: (f: DecodedFrame) => void;
  /**
   * Sees every frame on a non-zero stream before the Mux. Returns true if it took the frame
   * (the relay's router forwards streams it does not terminate).
   */
  intercept?: (bytes: Uint8Array, streamId: number) => boolean;
  /** A heartbeat arrived (the relay reads agents' presence summaries from it). */
  onPing?: (ping: import('../protocol/gen/cmdop.js').cmdop.v1.Ping) => void;
  /** Builds the ping body (the agent adds its presence summary). */
  pingBody?: () => FrameBody;
  /** The socket drained (after the Mux took its turn): the relay's Outbox sends what waits. */
  onDrain?: () => void;
}

/** Node's timers may be unref'd so they keep no process alive; a browser's are plain numbers. */
function unref(t: unknown): void {
  (t as { unref?: () => void }).unref?.();
}

export type LinkCloseListener = (err: CmdopError) => void;

export class Link {
  /** Round trip of the last heartbeat this side sent, in ms (null before the first pong). */
  rttMs: number | null = null;
  readonly mux: Mux;
  /** Time (ms since epoch) of the last frame received. */
  lastReceived = Date.now();
  private readonly log: Logger;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed: CmdopError | null = null;
  private paused = false;
  private readonly closeListeners: LinkCloseListener[] = [];
  /** Frames on stream 0 other than ping/pong/error: the handshake. */
  onControl: ((f: DecodedFrame) => void) | undefined;

  constructor(readonly transport: Transport, private readonly opts: LinkOptions) {
    this.log = opts.log;
    this.onControl = opts.onControl;
    this.mux = new Mux(
      {
        send: (frame) => this.send(frame),
        bufferedAmount: () => transport.bufferedAmount,
      },
      opts,
    );
    transport.listen({
      message: (bytes, binary) => this.onMessage(bytes, binary),
      close: (code, reason) => this.lost(new ConnectionError(`link closed (${code}${reason.length ? ': ' + reason : ''})`)),
      error: (err) => this.lost(new ConnectionError(`link error: ${err.message}`, { cause: err })),
      drain: () => {
        this.mux.drained();
        opts.onDrain?.();
      },
    });
    if (opts.heartbeatMs > 0) this.startHeartbeat(opts.heartbeatMs);
  }

  /** Sends one frame, if the link is still open (the Mux and the relay's router both send through here). */
  send(frame: Uint8Array): void {
    if (this.transport.isOpen) this.transport.send(frame);
  }

  /**
   * Stops reading from the peer (the relay holds too much of what it sent). Silence while paused
   * is ours, not the peer's, so the heartbeat does not count it.
   */
  pause(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.transport.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.lastReceived = Date.now();
    if (!this.closed) this.transport.resume();
  }

  get isOpen(): boolean {
    return this.closed === null;
  }

  /** Opens a stream to the peer. */
  open(o: Parameters<Mux['open']>[0]): Stream {
    return this.mux.open(o);
  }

  sendControl(body: FrameBody): void {
    this.mux.sendControl(body);
  }

  onClose(listener: LinkCloseListener): void {
    if (this.closed) listener(this.closed);
    else this.closeListeners.push(listener);
  }

  /** Closes the link, telling the peer why with a link-level Error frame when there is one. */
  close(err?: CmdopError, code = CLOSE_NORMAL): void {
    if (this.closed) return;
    if (err && this.transport.isOpen) this.sendControl({ error: toWireError(err) });
    this.transport.close(code, err ? err.code : 'bye');
    // A peer that does not complete the closing handshake is not waited for.
    const force = setTimeout(() => this.transport.terminate(), 1000);
    unref(force);
    this.lost(err ?? new ConnectionError('link closed'));
  }

  /** Drops the link at once, without a closing handshake (dead peer). */
  terminate(err: CmdopError): void {
    this.transport.terminate();
    this.lost(err);
  }

  /** Starts pinging every `ms`; the link dies after 2x `ms` of silence. */
  startHeartbeat(ms: number): void {
    clearInterval(this.timer);
    if (ms <= 0 || this.closed) return;
    const beat = () => this.sendControl(this.opts.pingBody?.() ?? { ping: { timeMs: Date.now() } });
    beat(); // at once, so presence summaries are there from the start
    let lastTick = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      const silent = now - this.lastReceived;
      // This tick came late: the process itself was stalled (a loaded machine, a long GC), and
      // what the peer sent meanwhile waits unread behind this timer. Silence cannot be judged now.
      const stalled = now - lastTick > ms * STALL_FACTOR;
      lastTick = now;
      if (this.paused || stalled) this.lastReceived = Math.max(this.lastReceived, now - ms);
      else if (silent >= 2 * ms) {
        this.log.warn({ silentMs: silent }, 'link silent for two heartbeats; dropping it');
        this.terminate(new UnavailableError(`link silent for ${silent} ms`));
        return;
      }
      beat();
    }, ms);
    unref(this.timer);
  }

  private onMessage(bytes: Uint8Array, isBinary: boolean): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    try {
      if (!isBinary) throw new ProtocolError('text message on a binary link');
      if (this.opts.intercept && bytes.length >= 5 && bytes[0] === 0x0d) {
        const id = (bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16) | (bytes[4]! << 24)) >>> 0;
        if (id !== 0 && this.opts.intercept(bytes, id)) return;
      }
      const f = decodeFrame(bytes);
      if (f.streamId !== 0) return this.mux.receive(f);
      switch (f.kind) {
        case 'ping':
          this.opts.onPing?.(f.frame!.ping!);
          return this.sendControl({ pong: { timeMs: f.frame!.ping!.timeMs } });
        case 'pong': {
          // Our heartbeat, echoed: its round trip (client.connectionInfo.latencyMs).
          const sent = Number(f.frame!.pong!.timeMs);
          if (sent > 0) this.rttMs = Math.max(0, Date.now() - sent);
          return;
        }
        case 'error': {
          // The peer ends the link and says why (auth revoked, protocol error, going away).
          this.lost(fromWireError(f.frame!.error!));
          this.transport.close(CLOSE_NORMAL, 'bye');
          return;
        }
        default:
          if (!this.onControl) throw new ProtocolError(`unexpected ${f.kind} frame on stream 0`);
          this.onControl(f);
      }
    } catch (e) {
      const err = asCmdopError(e, 'handling a frame');
      if (err instanceof ProtocolError) this.log.warn({ err: err.message }, 'protocol error; closing link');
      else this.log.error({ err: e }, 'error handling a frame; closing link');
      this.close(err, CLOSE_PROTOCOL);
    }
  }

  private lost(err: CmdopError): void {
    if (this.closed) return;
    this.closed = err;
    clearInterval(this.timer);
    this.mux.closeAll(err instanceof ConnectionError || err.code === 'unavailable' ? new UnavailableError(`link lost: ${err.message}`, { cause: err, detail: 'link_lost' }) : err);
    for (const l of this.closeListeners.splice(0)) l(err);
  }
}
