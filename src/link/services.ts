/**
 * Routes accepted streams to handlers by service and method. Shared by the agent (its
 * capabilities), the relay (machines, admin) and the local socket.
 */
import type { Logger } from '../log.js';
import { NotFoundError, ValidationError, asCmdopError } from '../errors.js';
import type { Stream, StreamInfo } from '../protocol/stream.js';

export type StreamHandler<C> = (stream: Stream, ctx: C) => void;

interface Decoder<T> {
  decode(bytes: Uint8Array): T;
}

export class ServiceRegistry<C extends { log: Logger }> {
  private readonly handlers = new Map<string, StreamHandler<C>>();

  /** A handler that owns the stream (bidirectional or server-streaming). */
  stream(service: string, method: string, handler: StreamHandler<C>): this {
    this.handlers.set(`${service}.${method}`, handler);
    return this;
  }

  /** A request/response method: decode the request, run `fn`, send its bytes and close. */
  unary<Req>(service: string, method: string, decoder: Decoder<Req>, fn: (req: Req, ctx: C, info: StreamInfo) => Promise<Uint8Array> | Uint8Array): this {
    return this.stream(service, method, (stream, ctx) => {
      stream.handle({});
      void (async () => {
        const req = decodeRequest(decoder, stream);
        const res = await fn(req, ctx, stream.info);
        stream.write(res);
        stream.end();
      })().catch((err) => abortWith(stream, ctx.log, err, `${service}.${method}`));
    });
  }

  has(service: string, method: string): boolean {
    return this.handlers.has(`${service}.${method}`);
  }

  dispatch(stream: Stream, ctx: C): void {
    const { service, method } = stream.info;
    const handler = this.handlers.get(`${service}.${method}`);
    if (!handler) {
      stream.abort(new NotFoundError(`unknown method ${service}.${method}`));
      return;
    }
    try {
      handler(stream, ctx);
    } catch (err) {
      abortWith(stream, ctx.log, err, `${service}.${method}`);
    }
  }
}

/** Decodes a stream's request; a malformed one is the caller's ValidationError, not our internal error. */
export function decodeRequest<T>(decoder: Decoder<T>, stream: Stream): T {
  try {
    return decoder.decode(stream.info.request);
  } catch {
    throw new ValidationError(`malformed ${stream.info.service}.${stream.info.method} request`);
  }
}

/** Aborts a stream with a typed error; unexpected errors are logged here, once, with context. */
export function abortWith(stream: Stream, log: Logger, err: unknown, doing: string): void {
  const e = asCmdopError(err, doing);
  if (e.code === 'internal') log.error({ err, method: doing }, 'handler failed');
  stream.abort(e);
}
