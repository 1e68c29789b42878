/**
 * How SDK namespaces reach the link: unary calls (retried per RetryOptions) and raw streams,
 * with the client's timeout.
 */
import type { OpenOptions } from '../protocol/mux.js';
import type { Stream } from '../protocol/stream.js';
import { callUnary } from '../link/call.js';
import { doublingDelay } from '../link/backoff.js';
import type { CmdopError } from '../errors.js';
import type { Link } from '../link/link.js';
import { asLinkLoss, mayRetry, type RetryOptions } from './retry.js';

export interface Caller {
  unary(target: string, service: string, method: string, request: Uint8Array, timeoutMs?: number): Promise<Uint8Array>;
  open(o: OpenOptions): Promise<Stream>;
  readonly timeoutMs: number;
}

/** Where calls get the live link: the SDK's Connection, or the web console's. */
export interface LinkSource {
  get(): Promise<Link>;
}

export function makeCaller(conn: LinkSource, timeoutMs: number, retry: RetryOptions = {}): Caller {
  const base = retry.retryDelay ?? 1000;
  return {
    timeoutMs,
    async unary(target, service, method, request, t = timeoutMs) {
      for (let attempt = 0; ; attempt++) {
        let open = true;
        try {
          const link = await conn.get();
          try {
            return await callUnary(link, service, method, request, { target, timeoutMs: t });
          } finally {
            open = link.isOpen;
          }
        } catch (e) {
          const err = asLinkLoss(e, open);
          if (!mayRetry(err, service, method, attempt, retry)) throw err;
          const wait = Math.max(doublingDelay(attempt, base, 30_000), (err as CmdopError).retryAfterMs ?? 0);
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    },
    async open(o) {
      const link = await conn.get();
      return link.open(o);
    },
  };
}
