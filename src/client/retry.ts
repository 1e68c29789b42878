/**
 * Which unary calls the client may retry on its own (maxRetries): only those that change
 * nothing, so a retry after a lost answer cannot do a thing twice. Others are retried only with
 * `retryNonIdempotent`. Pure.
 */
import { CmdopError, ConnectionError } from '../errors.js';

export const IDEMPOTENT: ReadonlySet<string> = new Set([
  'agent.status',
  'system.info',
  'system.spend',
  'machines.list',
  'machines.get',
  'terminal.list',
  'terminal.get',
  'terminal.active',
  'terminal.history',
  'files.list',
  'files.info',
  'files.search',
  'files.upload_status',
  'fleets.list',
  'fleets.get',
  'fleets.machines.list',
  'fleets.members.list',
  'admin.keys.list',
  'admin.tokens.list',
  'audit.list',
  'audit.head',
  'audit.verify',
  'ai.messages',
  'ai.active_session',
]);

export interface RetryOptions {
  /** Retries of a call that failed with a retryable error (default 0). */
  maxRetries?: number;
  /** First delay before a retry, ms (default 1000); it doubles per retry, or a server's retryAfterMs if longer. */
  retryDelay?: number;
  /** Retry calls that change something too (default false: a lost answer may mean it was done). */
  retryNonIdempotent?: boolean;
}

export function mayRetry(err: unknown, service: string, method: string, attempt: number, o: RetryOptions): boolean {
  if (attempt >= (o.maxRetries ?? 0)) return false;
  if (!(err instanceof CmdopError) || !err.retryable) return false;
  return !!o.retryNonIdempotent || IDEMPOTENT.has(`${service}.${method}`);
}

/** An in-flight call whose own link dropped is a ConnectionError, as the seeds say. */
export function asLinkLoss(err: unknown, linkOpen: boolean): unknown {
  if (!linkOpen && err instanceof CmdopError && err.detail === 'link_lost' && !(err instanceof ConnectionError)) {
    return new ConnectionError(err.message, { cause: err, detail: 'link_lost' });
  }
  return err;
}
