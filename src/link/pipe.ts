/**
 * Joins a stream and a TCP socket, both directions, with backpressure end to end: the socket
 * pauses while the stream has no credit, and credit is granted only once the socket has taken the
 * bytes (into its kernel buffer, or Node's while that is under its high water mark). Half-close
 * carries over; a reset on either side aborts the other. Used by the agent (tunnel.connect) and by
 * the client (tunnels.open).
 */
import type { Socket } from 'node:net';
import { UnavailableError, type CmdopError } from '../errors.js';
import type { Stream } from '../protocol/stream.js';
import type { HeadroomReads } from './headroom-reads.js';

export interface PipeCounters {
  /** Bytes from the socket into the stream. */
  bytesIn: number;
  /** Bytes from the stream out to the socket. */
  bytesOut: number;
}

export function socketError(err: NodeJS.ErrnoException, target: string): CmdopError {
  const what = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ECONNRESET' ? 'connection reset' : err.code ?? err.message;
  return new UnavailableError(`${target}: ${what}`, { detail: err.code === 'ECONNRESET' ? 'reset' : 'connect_failed', retryable: err.code !== 'ECONNRESET' });
}

/**
 * Joins `stream` and `sock`; returns the live byte counters. `reads`: the socket was made with
 * its `onread` (reads straight into buffers with frame headroom).
 */
export function pipe(stream: Stream, sock: Socket, target: string, counters: PipeCounters = { bytesIn: 0, bytesOut: 0 }, reads?: HeadroomReads): PipeCounters {
  stream.autoConsume = false;
  let failed = false;
  // Credit goes back as the socket takes the bytes: at once while its buffer is under its high
  // water mark, else when it drains. (No callback per write: on a database's or a shell's small
  // messages, a closure and a deferred callback per message were a measurable share of the work.)
  let owed = 0;
  sock.on('drain', () => {
    const n = owed;
    owed = 0;
    if (n > 0) stream.consume(n);
  });
  stream.handle({
    onData: (chunk) => {
      counters.bytesOut += chunk.length;
      if (sock.write(chunk) && owed === 0) stream.consume(chunk.length);
      else owed += chunk.length;
    },
    onEnd: () => sock.end(),
    onDrain: () => sock.resume(),
    onClose: (err) => {
      if (err && !failed) sock.resetAndDestroy();
    },
  });
  const onChunk = (chunk: Uint8Array): boolean => {
    counters.bytesIn += chunk.length;
    return stream.write(chunk);
  };
  if (reads) {
    if (!reads.attach(onChunk)) sock.pause();
  } else sock.on('data', (chunk: Buffer) => {
    if (!onChunk(chunk)) sock.pause();
  });
  let sawEnd = false;
  sock.on('end', () => {
    sawEnd = true;
    stream.end();
  });
  sock.on('error', (err: NodeJS.ErrnoException) => {
    failed = true;
    stream.abort(socketError(err, target));
  });
  sock.on('close', () => {
    // After a clean end the stream finishes by itself once its queue is flushed.
    if (!stream.finished && !failed && !sawEnd) stream.abort(new UnavailableError(`${target}: connection closed`));
  });
  return counters;
}
