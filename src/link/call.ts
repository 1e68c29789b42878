/** Client-side helpers for calls on a link: unary with a deadline, and reading a whole stream. */
import { CancelledError, TimeoutError, TooLargeError, type CmdopError } from '../errors.js';
import { MAX_UNARY_RESPONSE } from '../protocol/limits.js';
import type { Stream } from '../protocol/stream.js';
import type { Link } from './link.js';

export interface CallOptions {
  target?: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  maxBytes?: number;
}

/** Reads a stream to its end and returns its bytes; rejects with the stream's error. */
export function readAll(stream: Stream, o: Omit<CallOptions, 'target'>): Promise<Uint8Array> {
  const max = o.maxBytes ?? MAX_UNARY_RESPONSE;
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const timer = setTimeout(() => stream.abort(new TimeoutError(`no answer to ${stream.info.service}.${stream.info.method} within ${o.timeoutMs} ms`)), o.timeoutMs);
    const onAbort = () => stream.abort(new CancelledError('call cancelled'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    stream.handle({
      onData: (chunk) => {
        total += chunk.length;
        if (total > max) stream.abort(new TooLargeError(`response larger than ${max} bytes`));
        else chunks.push(chunk);
      },
      onClose: (err: CmdopError | null) => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (err) return reject(err);
        const out = new Uint8Array(total);
        let pos = 0;
        for (const c of chunks) {
          out.set(c, pos);
          pos += c.length;
        }
        resolve(out);
      },
    });
  });
}

/** Opens a stream with a request, sends nothing more, and returns the whole response. */
export function callUnary(link: Link, service: string, method: string, request: Uint8Array, o: CallOptions): Promise<Uint8Array> {
  let stream: Stream;
  try {
    stream = link.open({ target: o.target ?? '', service, method, request, end: true });
  } catch (err) {
    return Promise.reject(err);
  }
  return readAll(stream, o);
}
