/**
 * Node stream adapters for link streams, with flow control carried through: a Readable grants
 * credit only as its reader drains, and a Writable holds its callback until the link has room.
 * Used by the client (file transfers) and the agent (archives).
 */
import { Duplex, Readable, Writable } from 'node:stream';
import { UnavailableError, asCmdopError, type CmdopError } from '../errors.js';
import type { Stream, StreamHandlers } from '../protocol/stream.js';

const HIGH_WATER = 1024 * 1024;

/** The stream's incoming bytes as a Readable; destroying it aborts the stream. */
export function readableFrom(stream: Stream): Readable {
  stream.autoConsume = false;
  let owed = 0;
  const r = new Readable({
    highWaterMark: HIGH_WATER,
    read() {
      if (owed > 0) {
        const n = owed;
        owed = 0;
        stream.consume(n);
      }
    },
    destroy(err, cb) {
      if (!stream.finished) stream.abort(err ? asCmdopError(err) : new UnavailableError('cancelled by the reader'));
      cb(err);
    },
  });
  stream.handle({
    onData: (chunk) => {
      if (r.push(chunk)) stream.consume(chunk.length);
      else owed += chunk.length;
    },
    onEnd: () => r.push(null),
    onClose: (err) => {
      if (err) r.destroy(err);
    },
  });
  return r;
}

/**
 * A Writable that sends into the stream; `final` half-closes it. `extra` handlers see what the
 * peer sends back (a result after the upload) and how the stream ends.
 */
/**
 * The writing half both adapters share: a write's callback waits until the link has room, and a
 * closed stream fails writes with the error it closed with.
 */
function sender(stream: Stream) {
  let waiting: ((err?: Error | null) => void) | null = null;
  let ended: CmdopError | null = null;
  const release = (err?: CmdopError | null) => {
    const cb = waiting;
    waiting = null;
    cb?.(err ?? null);
  };
  return {
    write(chunk: Uint8Array, cb: (err?: Error | null) => void): void {
      if (stream.finished) return cb(ended ?? new UnavailableError('stream closed'));
      if (stream.write(chunk)) cb();
      else waiting = cb;
    },
    drained: () => release(),
    closed(err: CmdopError | null): void {
      ended = err;
      release(err);
    },
  };
}

export function writableTo(stream: Stream, extra: Omit<StreamHandlers, 'onDrain'> = {}): Writable {
  const out = sender(stream);
  const w = new Writable({
    highWaterMark: HIGH_WATER,
    write: (chunk: Uint8Array, _enc, cb) => out.write(chunk, cb),
    final(cb) {
      stream.end();
      cb();
    },
    destroy(err, cb) {
      if (err && !stream.finished) stream.abort(asCmdopError(err));
      cb(err);
    },
  });
  stream.handle({
    ...extra,
    onDrain: out.drained,
    onClose: (err) => {
      out.closed(err);
      extra.onClose?.(err);
    },
  });
  return w;
}

/**
 * The stream as one Duplex (a byte pipe both ways, e.g. an SSH transport): reads grant credit as
 * the reader drains, writes wait for the link's room, `end()` half-closes, destroy aborts.
 */
export function duplexFrom(stream: Stream, o: { firstChunk?: (chunk: Uint8Array) => CmdopError | null } = {}): Duplex {
  stream.autoConsume = false;
  let owed = 0;
  let first = true;
  const out = sender(stream);
  const d = new Duplex({
    readableHighWaterMark: HIGH_WATER,
    writableHighWaterMark: HIGH_WATER,
    allowHalfOpen: true,
    read() {
      if (owed > 0) {
        const n = owed;
        owed = 0;
        stream.consume(n);
      }
    },
    write: (chunk: Uint8Array, _enc, cb) => out.write(chunk, cb),
    final(cb) {
      if (!stream.finished) stream.end();
      cb();
    },
    destroy(err, cb) {
      if (!stream.finished) stream.abort(err ? asCmdopError(err) : new UnavailableError('closed by this side'));
      cb(err);
    },
  });
  stream.handle({
    onData: (chunk) => {
      if (first) {
        first = false;
        const refused = o.firstChunk?.(chunk);
        if (refused) return void d.destroy(refused);
      }
      if (d.push(chunk)) stream.consume(chunk.length);
      else owed += chunk.length;
    },
    onEnd: () => d.push(null),
    onDrain: out.drained,
    onClose: (err) => {
      out.closed(err);
      if (err) d.destroy(err);
      else if (!d.readableEnded) d.push(null);
    },
  });
  return d;
}
