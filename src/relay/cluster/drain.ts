/**
 * Draining a node for a rolling upgrade: its agent links are asked to move, a few at a time over
 * the drain window (so the other nodes see a stream of reconnects, not a herd), each with a
 * retry-after hint the agent spreads its reconnect over; then its client links, which fail over
 * and resume as after any drop. New links are refused meanwhile (503 with Retry-After).
 */
import { UnavailableError } from '../../errors.js';
import { CLOSE_GOING_AWAY } from '../../link/link.js';

/** The window a drain spreads its agents' moves over. */
export const DRAIN_WINDOW_MS = 5000;
/** The reconnect spread an agent is told to use. */
export const DRAIN_RETRY_AFTER_MS = 1000;
const TICK_MS = 100;

export interface Drainable {
  link: { close(err: UnavailableError, code: number): void; isOpen: boolean };
  role: string;
}

export const drainError = () => new UnavailableError('this relay node is draining; connect to another node', { retryAfterMs: DRAIN_RETRY_AFTER_MS, detail: 'relay_draining' });

/** Closes `conns()` agents first, spread over `windowMs`, then clients; resolves when done. */
export function drainLinks(conns: () => Iterable<Drainable>, windowMs = DRAIN_WINDOW_MS): Promise<void> {
  const agents = [...conns()].filter((c) => c.role === 'agent');
  const perTick = Math.max(1, Math.ceil(agents.length / Math.max(1, windowMs / TICK_MS)));
  return new Promise((resolve) => {
    const tick = () => {
      for (const c of agents.splice(0, perTick)) if (c.link.isOpen) c.link.close(drainError(), CLOSE_GOING_AWAY);
      if (agents.length > 0) return void setTimeout(tick, TICK_MS).unref();
      for (const c of conns()) if (c.role === 'client' && c.link.isOpen) c.link.close(drainError(), CLOSE_GOING_AWAY);
      resolve();
    };
    tick();
  });
}
