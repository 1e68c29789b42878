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

/** Registers a service's handlers on a registry (what a lazy service's module gives). */
export type Registrar<C extends { log: Logger }> = (r: ServiceRegistry<C>) => void;

export class ServiceRegistry<C extends { log: Logger }> {
  private readonly handlers = new Map<string, StreamHandler<C>>();
  /** Services whose code loads on their first stream: the loader, then the load under way. */
  private readonly lazies = new Map<string, (() => Promise<Registrar<C>>) | Promise<void>>();

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

  /**
   * A service whose handlers load on its first stream (`load` imports its module and gives the
   * function that registers them): an idle process holds no code of a service nobody called.
   * Streams that arrive meanwhile wait in their inboxes (bounded by their windows). A load that
   * fails aborts the streams that waited for it; the next stream tries again.
   */
  lazy(service: string, load: () => Promise<Registrar<C>>): this {
    this.lazies.set(service, load);
    return this;
  }

  dispatch(stream: Stream, ctx: C): void {
    const { service, method } = stream.info;
    const handler = this.handlers.get(`${service}.${method}`);
    if (!handler) {
      const loading = this.load(service);
      if (loading) {
        void loading.then(
          () => stream.finished || this.dispatch(stream, ctx),
          (err) => abortWith(stream, ctx.log, err, `loading the ${service} service`),
        );
        return;
      }
      stream.abort(new NotFoundError(`unknown method ${service}.${method}`));
      return;
    }
    try {
      handler(stream, ctx);
    } catch (err) {
      abortWith(stream, ctx.log, err, `${service}.${method}`);
    }
  }

  private load(service: string): Promise<void> | null {
    const lazy = this.lazies.get(service);
    if (!lazy || lazy instanceof Promise) return lazy ?? null;
    const loading = lazy().then(
      (register) => {
        this.lazies.delete(service);
        register(this);
      },
      (err: unknown) => {
        this.lazies.set(service, lazy);
        throw err;
      },
    );
    this.lazies.set(service, loading);
    return loading;
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
