/**
 * The stream multiplexer of one link. Pure: it is given a FrameSink and fed received frames.
 *
 * Stream ids: the side that dialed opens odd ids, the other side even ids, each increasing, so
 * the two never collide and a frame for a closed stream can be told from one for a stream that
 * never existed (the first is dropped, the second is a protocol error).
 *
 * Fairness: data goes straight to the sink while the socket's queue is below LINK_HIGH_WATER.
 * Above it, streams with data wait in a round-robin and send one chunk per turn as the socket
 * drains, so a bulk stream cannot starve an interactive one.
 */
import { cmdop } from './gen/cmdop.js';
import { type CmdopError, ProtocolError, RateLimitError, NotFoundError, ValidationError } from '../errors.js';
import { encodeData, encodeFrame, type DecodedFrame, type FrameBody } from './codec.js';
import { fromWireError, toWireError } from './codes.js';
import { DEFAULT_WINDOW, GRANT_BATCH, LINK_HIGH_WATER, LINK_INFLIGHT, MAX_STREAMS_PER_LINK, MAX_WINDOW, SMALL_FRAME } from './limits.js';
import { Stream, type StreamHost, type StreamInfo } from './stream.js';

export interface FrameSink {
  send(frame: Uint8Array): void;
  /** Bytes queued on the transport and not yet written to the network. */
  bufferedAmount(): number;
}

export interface OpenOptions {
  target?: string;
  service: string;
  method: string;
  request?: Uint8Array;
  /** Receive window for this stream (default DEFAULT_WINDOW). */
  window?: number;
  /** The opener sends no data after the request. */
  end?: boolean;
}

export interface MuxOptions {
  /** True on the side that dialed the link (it opens odd stream ids). */
  dialer: boolean;
  maxStreams?: number;
  /** A peer opened a stream. Install handlers synchronously or abort it. */
  onStream?: (stream: Stream) => void;
}

const EMPTY = new Uint8Array(0);

export class Mux implements StreamHost {
  private readonly streams = new Map<number, Stream>();
  private nextLocalId: number;
  private highestRemoteId = 0;
  private readonly remoteParity: number;
  private readonly maxStreams: number;
  private waiting: Stream[] = [];
  /** Streams waiting for the link's in-flight bytes to land (flow.v2 peers only). */
  private grounded: Stream[] = [];
  /** Bytes sent and not yet granted back, over every stream. */
  private inflight = 0;
  /**
   * The peer grants back every GRANT_BATCH (it announced flow.v2), so bulk streams keep at most
   * LINK_INFLIGHT in flight on the link. Set once the handshake says so.
   */
  peerGrantsInBatches = false;
  private closedWith: CmdopError | null = null;

  constructor(private readonly sink: FrameSink, private readonly opts: MuxOptions) {
    this.nextLocalId = opts.dialer ? 1 : 2;
    this.remoteParity = opts.dialer ? 0 : 1;
    this.maxStreams = opts.maxStreams ?? MAX_STREAMS_PER_LINK;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Reserves the next local stream id (the relay uses this for streams it forwards). */
  allocateId(): number {
    const id = this.nextLocalId;
    this.nextLocalId += 2;
    return id;
  }

  /** Records a remote id that something other than this mux handled (the relay's router). */
  noteRemoteId(id: number): void {
    if (id > this.highestRemoteId) this.highestRemoteId = id;
  }

  /** True if `id` belongs to a stream that existed on this link and is over now. */
  isStale(id: number): boolean {
    if (id % 2 === this.remoteParity) return id <= this.highestRemoteId;
    return id < this.nextLocalId;
  }

  /** Opens a stream to the peer. */
  open(o: OpenOptions): Stream {
    if (this.closedWith) throw this.closedWith;
    if (this.streams.size >= this.maxStreams) throw new RateLimitError(`too many streams on this link (limit ${this.maxStreams})`);
    const window = o.window ?? DEFAULT_WINDOW;
    if (window <= 0 || window > MAX_WINDOW) throw new ValidationError(`window must be between 1 and ${MAX_WINDOW} bytes`);
    const id = this.allocateId();
    const info: StreamInfo = { target: o.target ?? '', service: o.service, method: o.method, request: o.request ?? EMPTY };
    const stream = new Stream(this, id, info, DEFAULT_WINDOW, window, false);
    this.streams.set(id, stream);
    this.sink.send(encodeFrame(id, { open: { target: info.target, service: o.service, method: o.method, request: info.request, window, end: o.end ?? false } }));
    if (o.end) stream.endedInOpen();
    return stream;
  }

  /** Handles one received frame on a non-zero stream id. Throws ProtocolError on a broken peer. */
  receive(f: DecodedFrame): void {
    const id = f.streamId;
    const stream = this.streams.get(id);
    if (!stream) {
      if (f.kind === 'open') return this.accept(id, f.frame!.open!);
      if (this.isStale(id)) return;
      throw new ProtocolError(`${f.kind} frame for unknown stream ${id}`);
    }
    switch (f.kind) {
      case 'data': return stream.receiveData(f.data!);
      case 'window': return stream.receiveWindow(f.frame!.window!.credit);
      case 'close': return stream.receiveClose();
      case 'error': return stream.receiveError(fromWireError(f.frame!.error!));
      default: throw new ProtocolError(`unexpected ${f.kind} frame on stream ${id}`);
    }
  }

  /** Sends a frame on stream 0 (handshake, heartbeat). */
  sendControl(body: FrameBody): void {
    this.sink.send(encodeFrame(0, body));
  }

  /** The transport drained: give waiting streams their turns. */
  drained(): void {
    while (this.waiting.length > 0 && this.sink.bufferedAmount() < LINK_HIGH_WATER) {
      const turn = this.waiting;
      this.waiting = [];
      for (const s of turn) {
        s.waiting = false;
        if (s.finished) continue;
        if (!this.mayFly(s)) {
          this.ground(s);
          continue;
        }
        const chunk = s.takeChunk();
        if (chunk) this.send(s, chunk);
        if (s.hasSendable) this.enqueue(s);
        else s.afterFlush();
      }
    }
  }

  /** The link is gone: every stream ends with `err`. */
  closeAll(err: CmdopError): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const s of [...this.streams.values()]) s.linkLost(err);
    this.streams.clear();
    this.waiting = [];
    this.grounded = [];
  }

  // ---- StreamHost ----

  flush(s: Stream): void {
    if (s.waiting || s.grounded) return;
    while (s.hasSendable) {
      if (this.sink.bufferedAmount() >= LINK_HIGH_WATER) return this.enqueue(s);
      if (!this.mayFly(s)) return this.ground(s);
      this.send(s, s.takeChunk()!);
    }
    s.afterFlush();
  }

  landed(s: Stream, n: number): void {
    if (this.peerGrantsInBatches) this.inflight -= n;
    if (this.grounded.length === 0) return;
    const list = this.grounded;
    this.grounded = [];
    for (const g of list) {
      g.grounded = false;
      if (g !== s && !g.finished) this.flush(g);
    }
  }

  sendWindow(s: Stream, credit: number): void {
    this.sink.send(encodeFrame(s.id, { window: { credit } }));
  }

  sendClose(s: Stream): void {
    this.sink.send(encodeFrame(s.id, { close: {} }));
  }

  sendError(s: Stream, err: CmdopError): void {
    this.sink.send(encodeFrame(s.id, { error: toWireError(err) }));
  }

  finished(s: Stream): void {
    if (this.peerGrantsInBatches) this.inflight -= s.inflight;
    s.inflight = 0;
    this.streams.delete(s.id);
  }

  private send(s: Stream, chunk: Uint8Array): void {
    if (this.peerGrantsInBatches) this.inflight += chunk.length;
    this.sink.send(encodeData(s.id, chunk));
  }

  /** See LINK_INFLIGHT: small frames always go; bulk ones while the link (or the stream's own batch) has room. */
  private mayFly(s: Stream): boolean {
    if (!this.peerGrantsInBatches) return true;
    const n = s.nextChunkLength;
    return n <= SMALL_FRAME || this.inflight + n <= LINK_INFLIGHT || s.inflight < GRANT_BATCH;
  }

  private ground(s: Stream): void {
    s.grounded = true;
    this.grounded.push(s);
  }

  private enqueue(s: Stream): void {
    s.waiting = true;
    this.waiting.push(s);
  }

  private accept(id: number, open: cmdop.v1.Open): void {
    if (id % 2 !== this.remoteParity || id <= this.highestRemoteId) throw new ProtocolError(`peer opened stream ${id} out of sequence`);
    this.highestRemoteId = id;
    const refuse = (err: CmdopError) => this.sink.send(encodeFrame(id, { error: toWireError(err) }));
    const window = open.window || DEFAULT_WINDOW;
    if (window > MAX_WINDOW) throw new ProtocolError(`peer asked for a ${window}-byte window (limit ${MAX_WINDOW})`);
    if (this.streams.size >= this.maxStreams) return refuse(new RateLimitError(`too many streams on this link (limit ${this.maxStreams})`));
    if (!this.opts.onStream) return refuse(new NotFoundError(`no service ${open.service}.${open.method} here`));
    const info: StreamInfo = { target: open.target, service: open.service, method: open.method, request: open.request, caller: open.caller, caps: open.caps };
    const stream = new Stream(this, id, info, window, DEFAULT_WINDOW, open.end);
    this.streams.set(id, stream);
    this.opts.onStream(stream);
  }
}
