/**
 * The console's sign-in state, kept in memory: session cookies (each bound to one API key, and
 * kept only as their SHA-256) and the single-use sign-in codes `cmdop ui` prints. Pure apart
 * from randomness; the clock is passed in.
 */
import { createHash, randomBytes } from 'node:crypto';

/** A session lasts this long at most (and never past its key's expiry). */
export const SESSION_TTL_MS = 12 * 3600_000;
/** A sign-in code must be used within this. */
export const CODE_TTL_MS = 60_000;
/** Sessions held at once; the oldest go first beyond it. */
const MAX_SESSIONS = 10_000;

export interface SessionStore {
  load(): Record<string, ConsoleSession> | null;
  save(all: Record<string, ConsoleSession>): void;
}

export interface ConsoleSession {
  keyId: string;
  expiresMs: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

export class SessionBook {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly codes = new Map<string, number>();

  /**
   * @param store where sessions are kept across restarts (the relay's data dir: digests only,
   *   never a cookie); none for `cmdop ui`, whose sessions end with it.
   */
  constructor(private readonly now: () => number = Date.now, private readonly store?: SessionStore) {
    for (const [h, s] of Object.entries(store?.load() ?? {})) if (s.expiresMs > now()) this.sessions.set(h, s);
  }

  private save(): void {
    this.store?.save(Object.fromEntries(this.sessions));
  }

  /** A new session for `keyId`: the cookie value to set, and when it expires. */
  open(keyId: string, keyExpiresMs: number | null): { cookie: string; expiresMs: number } {
    this.sweep();
    const cookie = randomBytes(32).toString('base64url');
    const expiresMs = Math.min(this.now() + SESSION_TTL_MS, keyExpiresMs ?? Infinity);
    this.sessions.set(digest(cookie), { keyId, expiresMs });
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    this.save();
    return { cookie, expiresMs };
  }

  /** The live session this cookie value names, or null. */
  get(cookie: string | undefined): ConsoleSession | null {
    if (!cookie) return null;
    const h = digest(cookie);
    const s = this.sessions.get(h);
    if (!s) return null;
    if (this.now() >= s.expiresMs) {
      this.sessions.delete(h);
      return null;
    }
    return s;
  }

  close(cookie: string | undefined): void {
    if (cookie && this.sessions.delete(digest(cookie))) this.save();
  }

  /** Ends every session of a key (it was revoked). */
  closeKey(keyId: string): void {
    let gone = false;
    for (const [h, s] of this.sessions) if (s.keyId === keyId) gone = this.sessions.delete(h);
    if (gone) this.save();
  }

  /** A single-use sign-in code, valid for CODE_TTL_MS. */
  newCode(): string {
    this.sweep();
    const code = randomBytes(24).toString('base64url');
    this.codes.set(digest(code), this.now() + CODE_TTL_MS);
    return code;
  }

  /** True once for a live code; the code is spent either way. */
  redeem(code: string | undefined): boolean {
    if (!code) return false;
    const h = digest(code);
    const until = this.codes.get(h);
    this.codes.delete(h);
    return until !== undefined && this.now() < until;
  }

  private sweep(): void {
    const now = this.now();
    for (const [h, s] of this.sessions) if (now >= s.expiresMs) this.sessions.delete(h);
    for (const [h, until] of this.codes) if (now >= until) this.codes.delete(h);
  }
}
