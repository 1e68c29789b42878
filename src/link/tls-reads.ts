/**
 * A link's TLS socket read straight into our buffers (`tls.connect`'s `onread` option), so that
 * once our frame path owns the socket (lean-transport.ts) each read goes to the frame reader as
 * it lands: no Readable stream in between (its buffer, `data` event and read-ahead, and the
 * `nextTick` each of those schedules), which the bare chain's `pipe()` pays on every read.
 *
 * Until then (the HTTP upgrade, read by Node's HTTP client and by ws through `data` events) each
 * read is pushed into the socket's own Readable, as Node would. The buffers are HeadroomReads':
 * a read that fills half of one is handed on as it is, a smaller one is copied to its own size,
 * so a view the frame reader hands out never pins 64 KiB.
 */
import { isIP } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { HeadroomReads } from './headroom-reads.js';

/** The reads of each socket made here, for the frame path that takes the socket over. */
const readsBySocket = new WeakMap<object, HeadroomReads>();

/** The reads a socket was made with here (none for a socket Node or a proxy agent made). */
export function readsOf(socket: object): HeadroomReads | undefined {
  return readsBySocket.get(socket);
}

/** What ws's own `tlsConnect` does (no path; SNI from the host unless it is an address), with our reads. */
export function connectWithReads(options: ConnectionOptions & { path?: string; host?: string }): TLSSocket {
  const reads = new HeadroomReads();
  const o = { ...options, path: undefined, onread: reads.onread };
  if (!o.servername && o.servername !== '') o.servername = isIP(o.host ?? '') ? '' : o.host;
  const socket = connect(o as ConnectionOptions);
  reads.attach((chunk) => socket.push(chunk));
  readsBySocket.set(socket, reads);
  return socket;
}
