/** How SDK namespaces reach the link: unary calls and raw streams, with the client's timeout. */
import type { OpenOptions } from '../protocol/mux.js';
import type { Stream } from '../protocol/stream.js';
import { callUnary } from '../link/call.js';
import type { Connection } from './connection.js';

export interface Caller {
  unary(target: string, service: string, method: string, request: Uint8Array, timeoutMs?: number): Promise<Uint8Array>;
  open(o: OpenOptions): Promise<Stream>;
  readonly timeoutMs: number;
}

export function makeCaller(conn: Connection, timeoutMs: number): Caller {
  return {
    timeoutMs,
    async unary(target, service, method, request, t = timeoutMs) {
      const link = await conn.get();
      return callUnary(link, service, method, request, { target, timeoutMs: t });
    },
    async open(o) {
      const link = await conn.get();
      return link.open(o);
    },
  };
}
