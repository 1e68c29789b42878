/**
 * One stream on a link: ordered bytes both ways, half-close, abort with a typed error, and
 * credit-based flow control. Hot-path callbacks are plain fields (no EventEmitter, no promises).
 */
import { CmdopError, ProtocolError } from '../errors.js';
import { DATA_CHUNK } from './limits.js';
import { ReceiveWindow, SendCredit } from './flow.js';

/** What a Stream needs from its link. */
export interface StreamHost {
  /** Sends what it can of the stream's queue now (may defer if the link is congested). */
  flush(stream: Stream): void;
  sendWindow(stream: Stream, credit: number): void;
  sendClose(stream: Stream): void;
  sendError(stream: Stream, err: CmdopError): void;
  finished(stream: Stream): void;
  /** The peer granted back `n` bytes this stream had in flight. */
  landed?(stream: Stream, n: number): void;
}

export interface StreamInfo {
  target: string;
  service: string;
  method: string;
  request: Uint8Array;
  /** Who opened it, as stamped by the relay or the local socket server (empty on the opener's side). */
  caller?: string;
  /**
   * The capabilities the relay stamped (grants.v1): what the caller's key may do on this machine.
   * Undefined where no relay scoped the stream (the local socket, an older relay): full access.
   */
  caps?: readonly string[] | undefined;
}

export interface StreamHandlers {
  /** A chunk arrived. With autoConsume off, call `consume(chunk.length)` once it is processed. */
  onData?: (chunk: Uint8Array) => void;
  /** The peer will send no more data. */
  onEnd?: () => void;
  /** The stream is over: `null` after a clean close both ways, else the error that ended it. */
  onClose?: (err: CmdopError | null) => void;
  /** Everything queued by `write` has been sent. */
  onDrain?: () => void;
}

export class Stream {
  readonly id: number;
  readonly info: StreamInfo;
  /** When false, the consumer grants credit itself with `consume(n)`: that is its backpressure. */
  autoConsume = true;

  private h: StreamHandlers = {};
  private inbox: Uint8Array[] | null = [];
  private inboxEnded = false;
  readonly credit: SendCredit;
  private readonly window: ReceiveWindow;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private localEnded = false;
  private closeSent = false;
  private remoteEnded = false;
  private done = false;
  private endError: CmdopError | null = null;
  /** Set while the stream waits in the link's congestion round-robin. */
  waiting = false;
  /** Set while the stream waits for the link's in-flight bytes to land. */
  grounded = false;
  /** Bytes sent since the peer last granted them back (in its socket or its queue). */
  inflight = 0;
  /** The peer's Open frame said it sends nothing after the request. */
  readonly endedAtOpen: boolean;

  constructor(private readonly host: StreamHost, id: number, info: StreamInfo, sendWindow: number, receiveWindow: number, remoteEnded: boolean) {
    this.id = id;
    this.info = info;
    this.credit = new SendCredit(sendWindow);
    this.window = new ReceiveWindow(receiveWindow);
    this.remoteEnded = remoteEnded;
    this.inboxEnded = remoteEnded;
    this.endedAtOpen = remoteEnded;
  }

  /**
   * Installs handlers; data that arrived before is delivered now. Until the first call, incoming
   * data waits in an inbox (bounded by the receive window), so a handler may set up first.
   */
  handle(handlers: StreamHandlers): this {
    this.h = handlers;
    const inbox = this.inbox;
    this.inbox = null;
    if (inbox) for (const chunk of inbox) this.deliver(chunk);
    if (this.inboxEnded) this.h.onEnd?.();
    if (this.done) this.h.onClose?.(this.endError);
    return this;
  }

  get finished(): boolean {
    return this.done;
  }

  /** Bytes written but not yet sent (waiting for credit or a congested link). */
  get writableLength(): number {
    return this.queuedBytes;
  }

  /** Bytes received and not yet consumed (only grows with autoConsume off). */
  get readableLength(): number {
    return this.window.buffered;
  }

  /**
   * Queues bytes for the peer. Returns false once bytes are waiting for credit: stop writing and
   * wait for onDrain. Writing after end() or after the stream finished is ignored.
   */
  write(chunk: Uint8Array): boolean {
    if (this.localEnded || this.done || chunk.length === 0) return !this.done && !this.localEnded;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.host.flush(this);
    return this.queuedBytes === 0;
  }

  /** Half-closes: the peer sees end of data once everything queued is sent. */
  end(): void {
    if (this.localEnded || this.done) return;
    this.localEnded = true;
    this.maybeSendClose();
  }

  /** The Open frame already said the opener sends nothing more (Open.end). */
  endedInOpen(): void {
    this.localEnded = true;
    this.closeSent = true;
  }

  /** Aborts the stream both ways with a typed error the peer receives. */
  abort(err: CmdopError): void {
    if (this.done) return;
    this.host.sendError(this, err);
    this.finish(err);
  }

  /** Marks `n` received bytes as processed, granting the peer more credit when due. */
  consume(n: number): void {
    if (this.done || n <= 0) return;
    const grant = this.window.consume(Math.min(n, this.window.buffered));
    if (grant > 0) this.host.sendWindow(this, grant);
  }

  /** Lets the peer send more in flight (bulk uploads); the window only grows, up to MAX_WINDOW. */
  growWindow(size: number): void {
    if (this.done) return;
    const grant = this.window.grow(size);
    if (grant > 0) this.host.sendWindow(this, grant);
  }

  // ---- called by the link ----

  /** The next piece to send within credit and chunk size, or null. */
  takeChunk(): Uint8Array | null {
    const head = this.queue[0];
    if (!head) return null;
    const n = Math.min(head.length, this.credit.available, DATA_CHUNK);
    if (n <= 0) return null;
    let piece: Uint8Array;
    if (n === head.length) {
      this.queue.shift();
      piece = head;
    } else {
      piece = head.subarray(0, n);
      this.queue[0] = head.subarray(n);
    }
    this.queuedBytes -= n;
    this.credit.spend(n);
    this.inflight += n;
    return piece;
  }

  /** Length of the chunk takeChunk would return now (0 if none). */
  get nextChunkLength(): number {
    const head = this.queue[0];
    return head ? Math.max(0, Math.min(head.length, this.credit.available, DATA_CHUNK)) : 0;
  }

  get hasSendable(): boolean {
    return this.queuedBytes > 0 && this.credit.available > 0;
  }

  /** Called by the link after it sent what it could. */
  afterFlush(): void {
    if (this.queuedBytes === 0) {
      this.maybeSendClose();
      if (!this.done) this.h.onDrain?.();
    }
  }

  receiveData(chunk: Uint8Array): void {
    if (this.remoteEnded) throw new ProtocolError(`data after close on stream ${this.id}`);
    this.window.receive(chunk.length);
    if (this.inbox) this.inbox.push(chunk);
    else this.deliver(chunk);
  }

  receiveWindow(credit: number): void {
    this.credit.grant(credit);
    const landed = Math.min(credit, this.inflight);
    this.inflight -= landed;
    if (landed > 0) this.host.landed?.(this, landed);
    this.host.flush(this);
  }

  receiveClose(): void {
    if (this.remoteEnded) throw new ProtocolError(`duplicate close on stream ${this.id}`);
    this.remoteEnded = true;
    if (this.inbox) this.inboxEnded = true;
    else this.h.onEnd?.();
    if (this.closeSent) this.finish(null);
  }

  receiveError(err: CmdopError): void {
    this.finish(err);
  }

  /** The link went away. */
  linkLost(err: CmdopError): void {
    this.finish(err);
  }

  private deliver(chunk: Uint8Array): void {
    if (this.h.onData) this.h.onData(chunk);
    if (this.autoConsume) this.consume(chunk.length);
  }

  private maybeSendClose(): void {
    if (!this.localEnded || this.closeSent || this.queuedBytes > 0 || this.done) return;
    this.closeSent = true;
    this.host.sendClose(this);
    if (this.remoteEnded) this.finish(null);
  }

  private finish(err: CmdopError | null): void {
    if (this.done) return;
    this.done = true;
    this.endError = err;
    this.queue = [];
    this.queuedBytes = 0;
    this.host.finished(this);
    if (!this.inbox) this.h.onClose?.(err);
  }
}
