/**
 * The browser's WebSocket as a link transport. A browser cannot stop reading a socket, so pause
 * is a no-op (stream windows bound what arrives) and it has no drain event, so one is made by
 * watching bufferedAmount while anything is queued.
 */
import type { Transport, TransportEvents } from '../../link/transport.js';
import { ConnectionError } from '../../errors.js';

const DRAIN_POLL_MS = 10;

export class BrowserTransport implements Transport {
  readonly socket = null;
  private events: TransportEvents | null = null;
  private poll: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly ws: WebSocket) {
    ws.binaryType = 'arraybuffer';
  }

  /** Opens a WebSocket and resolves once it is open. */
  static open(url: string): Promise<BrowserTransport> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(new BrowserTransport(ws));
      // A typed, retryable error: terminals keep resuming until the relay is back.
      ws.onerror = () => reject(new ConnectionError(`cannot open ${url}`));
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  listen(e: TransportEvents): void {
    this.events = e;
    this.ws.onmessage = (m) => (typeof m.data === 'string' ? e.message(new TextEncoder().encode(m.data), false) : e.message(new Uint8Array(m.data as ArrayBuffer), true));
    this.ws.onclose = (c) => {
      this.stopPoll();
      e.close(c.code, c.reason);
    };
    this.ws.onerror = () => e.error(new ConnectionError('WebSocket error'));
  }

  send(frame: Uint8Array): void {
    this.ws.send(frame);
    if (this.ws.bufferedAmount > 0 && !this.poll) {
      this.poll = setInterval(() => {
        if (this.ws.bufferedAmount > 0) return;
        this.stopPoll();
        this.events?.drain();
      }, DRAIN_POLL_MS);
    }
  }

  pause(): void {}

  resume(): void {}

  close(code: number, reason: string): void {
    this.ws.close(code === 1000 || (code >= 3000 && code < 5000) ? code : 1000, reason);
  }

  terminate(): void {
    this.ws.close();
  }

  private stopPoll(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }
}
