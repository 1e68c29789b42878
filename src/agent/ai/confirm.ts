/**
 * Confirm tokens: 128-bit random, single-use, expiring (about 120 s), each bound to one client
 * session and to the SHA-256 of the exact action shown. What runs is what was hashed, so a token
 * cannot approve anything else, be replayed, outlive its time, or move to another session.
 */
import { createHash, randomBytes } from 'node:crypto';

export const CONFIRM_TTL_MS = 120_000;

interface Pending {
  session: string;
  actionSha256: string;
  expiresMs: number;
}

export type ConfirmCheck = 'ok' | 'unknown' | 'expired' | 'wrong_session' | 'wrong_action';

export const actionHash = (action: string): string => createHash('sha256').update(action, 'utf8').digest('hex');

export class ConfirmTokens {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly ttlMs = CONFIRM_TTL_MS, private readonly now: () => number = Date.now) {}

  issue(session: string, action: string): string {
    this.sweep();
    const token = randomBytes(16).toString('hex');
    this.pending.set(token, { session, actionSha256: actionHash(action), expiresMs: this.now() + this.ttlMs });
    return token;
  }

  /** Uses a token for `action` in `session`. A token is spent by its first use, valid or not for its session. */
  use(token: string, session: string, action: string): ConfirmCheck {
    const p = this.pending.get(token);
    if (!p) return 'unknown';
    if (p.session !== session) return 'wrong_session'; // not spent: its own session may still answer it
    this.pending.delete(token);
    if (p.expiresMs <= this.now()) return 'expired';
    if (p.actionSha256 !== actionHash(action)) return 'wrong_action';
    return 'ok';
  }

  /** Drops a token that will not be answered (the ask ended). */
  drop(token: string): void {
    this.pending.delete(token);
  }

  private sweep(): void {
    const now = this.now();
    for (const [t, p] of this.pending) if (p.expiresMs <= now) this.pending.delete(t);
  }
}
