/** The Node transport: a `ws` WebSocket (relay, agent, SDK, CLI), its data path our own where it can be. */
import type { WebSocket } from 'ws';
import { MAX_FRAME_BYTES } from '../protocol/limits.js';
import { takeOver } from './lean-transport.js';
import { noteBufferChurn } from '../platform/buffer-churn.js';
import type { Transport, TransportEvents } from './transport.js';

export class WsTransport implements Transport {
  constructor(readonly ws: WebSocket) {}

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get socket(): unknown {
    return (this.ws as unknown as { _socket?: unknown })._socket;
  }

  listen(e: TransportEvents): void {
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer, isBinary) => {
      noteBufferChurn(data.byteLength);
      e.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), isBinary);
    });
    this.ws.on('close', (code, reason) => e.close(code, reason.toString()));
    this.ws.on('error', (err) => e.error(err));
    // ws has no drain event of its own; its socket's drain is when queued frames have gone out.
    (this.socket as NodeJS.EventEmitter | undefined)?.on('drain', () => e.drain());
  }

  send(frame: Uint8Array): void {
    noteBufferChurn(frame.byteLength);
    this.ws.send(frame);
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/**
 * The transport for an open `ws` WebSocket. With `own` (an accepted socket, whose frames are not
 * masked; or a client inside TLS or a local socket, which masks with the zero key) our own frame
 * path takes the socket over (./lean-transport.ts); otherwise, or where it cannot, ws stays.
 */
export function wsTransport(ws: WebSocket, own = true): Transport {
  return (own && takeOver(ws, MAX_FRAME_BYTES)) || new WsTransport(ws);
}
