/**
 * The link's WebSocket data path in Node, after `ws` has done the opening handshake: this
 * transport takes the socket over and reads and writes frames itself (./ws-frames.ts).
 *
 * Why: per message, `ws` feeds each socket read through a Writable stream (its Receiver), emits
 * two events, builds an options object and writes a frame as two buffers through a corked
 * writev; on our links every keystroke crosses that four times (client, relay in and out, agent)
 * each way. Here a socket read is parsed where it lands and a small frame leaves in one write.
 * Measured in the README (the data path, layer by layer). Everything `ws` does that our links
 * use stays with `ws`: the HTTP upgrade, its checks, TLS and the proxy agent on the way in.
 *
 * What the transport answers itself: a ping with a pong; a close with a close (the code echoed),
 * after which the socket ends. A framing error closes the link with the RFC's code for it.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { HEADROOM_MIN, takeHeadroom } from '../protocol/headroom.js';
import { noteBufferChurn } from '../platform/buffer-churn.js';
import type { Transport, TransportEvents } from './transport.js';
import type { HeadroomReads } from './headroom-reads.js';
import { readsOf } from './tls-reads.js';
import {
  CLOSE_ABNORMAL,
  CLOSE_NO_STATUS,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  WsFrameError,
  WsFrameReader,
  closePayload,
  encodeWsFrame,
  headerLength,
  parseClose,
  writeHeader,
} from './ws-frames.js';

/** Payloads up to this size without headroom leave in one buffer with their header (one copy, one write). */
const COPY_MAX = 16 * 1024;

/** ws's own socket listeners, by the names its source gives them (checked before a take-over). */
const WS_LISTENERS = { data: 'socketOnData', end: 'socketOnEnd', close: 'socketOnClose', error: 'socketOnError' } as const;

interface WsInternals {
  _socket?: Socket;
  _receiver?: { _bufferedBytes?: number; removeAllListeners(): void };
  _isServer?: boolean;
}

export class LeanTransport implements Transport {
  private events: TransportEvents | null = null;
  private closeSent = false;
  private closeReceived: { code: number; reason: string } | null = null;
  private closedEmitted = false;
  /** A socket error before the link listened, told to it when it does. */
  private early: Error | null = null;
  private readonly reader: WsFrameReader;
  /** Server sends are unmasked, client sends masked (with the zero key). */
  private readonly masked: boolean;

  /**
   * `reads`: the socket reads into our buffers (tls-reads.ts); once the link listens they come
   * here directly instead of through the socket's Readable.
   */
  constructor(readonly socket: Socket, isServer: boolean, maxPayload: number, private readonly reads?: HeadroomReads) {
    this.masked = !isServer;
    this.reader = new WsFrameReader({
      expectMasked: isServer,
      maxPayload,
      onMessage: (data, binary) => {
        noteBufferChurn(data.length);
        this.events!.message(data, binary);
      },
      onControl: (op, payload) => this.onControl(op, payload),
    });
    // Nothing is read until the link listens; an error or close before then waits for it.
    socket.pause();
    socket.on('end', () => socket.end());
    socket.on('error', (err) => (this.events ? this.events.error(err) : (this.early = err)));
    socket.on('close', () => this.emitClose());
    socket.on('drain', () => this.events?.drain());
  }

  get isOpen(): boolean {
    return !this.closeSent && !this.closeReceived && !this.socket.destroyed;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  listen(e: TransportEvents): void {
    this.events = e;
    if (this.early) e.error(this.early);
    if (this.socket.destroyed) return void queueMicrotask(() => this.emitClose());
    // Bytes the socket's Readable already holds come as `data`, before any new read (reading
    // starts again only with resume(), and the Readable's flow runs first).
    this.socket.on('data', this.onBytes);
    this.reads?.attach(this.onBytes);
    this.socket.resume();
  }

  private readonly onBytes = (chunk: Uint8Array): boolean => {
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.fail(err as Error);
    }
    return true;
  };

  send(frame: Uint8Array): void {
    if (this.closeSent || this.socket.destroyed) return;
    const n = frame.length;
    noteBufferChurn(n);
    const h = headerLength(n, this.masked);
    // A payload made with room in front (headroom.ts) gets its header there: one buffer, no copy.
    const whole = n >= HEADROOM_MIN ? takeHeadroom(frame, h) : null;
    if (whole) {
      writeHeader(whole, 0, OP_BINARY, n, this.masked);
      return void this.socket.write(whole);
    }
    if (n <= COPY_MAX) return void this.socket.write(encodeWsFrame(OP_BINARY, frame, this.masked));
    const header = Buffer.allocUnsafe(h);
    writeHeader(header, 0, OP_BINARY, n, this.masked);
    this.socket.cork();
    this.socket.write(header);
    this.socket.write(frame);
    this.socket.uncork();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(code: number, reason: string): void {
    if (this.closeSent || this.socket.destroyed) return;
    this.closeSent = true;
    this.socket.write(encodeWsFrame(OP_CLOSE, closePayload(code, reason), this.masked));
    if (this.closeReceived) this.socket.end();
  }

  terminate(): void {
    this.socket.destroy();
  }

  private onControl(op: number, payload: Uint8Array): void {
    if (op === OP_PING) {
      if (!this.closeSent) this.socket.write(encodeWsFrame(OP_PONG, payload, this.masked));
      return;
    }
    if (op !== OP_CLOSE || this.closeReceived) return;
    this.closeReceived = parseClose(payload);
    if (!this.closeSent) {
      const code = this.closeReceived.code === CLOSE_NO_STATUS ? 1000 : this.closeReceived.code;
      this.closeSent = true;
      this.socket.write(encodeWsFrame(OP_CLOSE, closePayload(code, ''), this.masked));
    }
    this.socket.end();
  }

  /** A framing error: tell the peer (with the RFC's code) and the link, then drop the socket. */
  private fail(err: Error): void {
    const code = err instanceof WsFrameError ? err.closeCode : 1011;
    this.events?.error(err);
    if (!this.closeSent && !this.socket.destroyed) {
      this.closeSent = true;
      this.socket.end(encodeWsFrame(OP_CLOSE, closePayload(code, err.message), this.masked));
    }
    this.socket.pause();
    this.closeReceived ??= { code, reason: err.message };
    this.socket.destroySoon();
  }

  private emitClose(): void {
    if (this.closedEmitted || !this.events) return;
    this.closedEmitted = true;
    const c = this.closeReceived ?? { code: CLOSE_ABNORMAL, reason: '' };
    this.events?.close(c.code, c.reason);
  }
}

/**
 * Takes the socket of an open `ws` WebSocket over, or returns null where that is not safe (the
 * socket already closing, bytes already read by ws's receiver, or a ws whose listeners are not the
 * ones this code knows): the caller then keeps ws as the transport.
 */
export function takeOver(ws: WebSocket, maxPayload: number): LeanTransport | null {
  const w = ws as unknown as WsInternals;
  const socket = w._socket;
  if (ws.readyState !== ws.OPEN || !socket || socket.destroyed || (w._receiver?._bufferedBytes ?? 1) !== 0) return null;
  const found: Array<[string, (...a: unknown[]) => void]> = [];
  for (const [ev, name] of Object.entries(WS_LISTENERS)) {
    const l = socket.listeners(ev).find((f) => f.name === name);
    if (!l) return null;
    found.push([ev, l as (...a: unknown[]) => void]);
  }
  for (const [ev, l] of found) socket.removeListener(ev, l);
  w._receiver!.removeAllListeners();
  // The socket's link back to ws is the last reference to it: without it the WebSocket, its
  // Receiver (a Writable stream) and its Sender are garbage, which an idle link need not hold.
  const back = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'websocket');
  if (back) delete (socket as unknown as Record<symbol, unknown>)[back];
  return new LeanTransport(socket, w._isServer === true, maxPayload, readsOf(socket));
}
