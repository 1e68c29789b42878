/**
 * Join tokens in memory over the store: issued, listed, revoked, and checked (in constant time;
 * one error for every failure) without being used up; enrolment uses one, atomically, in the
 * store. In a cluster a token is reloaded before each check, since another node may have used it.
 */
import { AuthError, NotFoundError, ValidationError } from '../errors.js';
import { newSecret, parseSecret, secretMatches, JOIN_TOKEN_PREFIX } from './secrets.js';
import type { TokenRecord } from './store/records.js';
import type { RelayStore } from './store/store.js';

/** Default lifetime of a join token. */
export const DEFAULT_TOKEN_TTL_MS = 24 * 3600_000;
/** Longest lifetime of a join token or an API key. */
export const MAX_TOKEN_TTL_MS = 365 * 24 * 3600_000;

export interface IssuedToken { token: TokenRecord; secret: string }

export class TokenBook {
  private readonly byId = new Map<string, TokenRecord>();
  /** Set in cluster mode: loads a token another node may have written or used. */
  loader: ((id: string) => Promise<TokenRecord | null>) | null = null;

  constructor(private readonly store: RelayStore, private readonly now: () => number, tokens: readonly TokenRecord[], private readonly fleetId: (ref: string) => string) {
    for (const t of tokens) this.byId.set(t.id, t);
  }

  async issue(o: { ttlMs?: number; uses?: number | null; labels?: Record<string, string>; fleet?: string }): Promise<IssuedToken> {
    const ttl = o.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    if (!(ttl > 0 && ttl <= MAX_TOKEN_TTL_MS)) throw new ValidationError('token lifetime must be between 1 ms and 365 days');
    const uses = o.uses === undefined ? 1 : o.uses;
    if (uses !== null && !(Number.isInteger(uses) && uses > 0)) throw new ValidationError('uses must be a positive integer (or unlimited)');
    const fleetId = o.fleet ? this.fleetId(o.fleet) : '';
    const s = newSecret(JOIN_TOKEN_PREFIX);
    const token: TokenRecord = { id: s.id, hash: s.hash, createdMs: this.now(), expiresMs: this.now() + ttl, usesLeft: uses, uses: 0, labels: o.labels ?? {}, revoked: false, fleetId };
    await this.store.putToken(token);
    this.byId.set(token.id, token);
    return { token, secret: s.secret };
  }

  list(): TokenRecord[] {
    return [...this.byId.values()];
  }

  async revoke(id: string): Promise<TokenRecord> {
    const t = this.byId.get(id);
    if (!t || !(await this.store.revokeToken(id))) throw new NotFoundError(`no join token with id ${id}`);
    t.revoked = true;
    return t;
  }

  /** A token as the store holds it now (enrolment used it, or another node changed it). */
  adopt(t: TokenRecord): void {
    const cur = this.byId.get(t.id);
    if (cur) Object.assign(cur, t);
    else this.byId.set(t.id, t);
  }

  /** Checks a join token without using it up (enrol uses it, atomically, in the store). */
  check(presented: string): TokenRecord {
    const parsed = parseSecret(JOIN_TOKEN_PREFIX, presented);
    const t = parsed ? this.byId.get(parsed.id) : undefined;
    const ok = secretMatches(parsed?.secretPart ?? '', t?.hash ?? '0'.repeat(64));
    if (!parsed || !t || !ok || t.revoked) throw new AuthError('invalid or revoked join token');
    if (t.expiresMs <= this.now()) throw new AuthError('join token expired');
    if (t.usesLeft !== null && t.usesLeft <= 0) throw new AuthError('join token already used up');
    return t;
  }

  /** check(), after reloading the token from the store in cluster mode. */
  async checkFresh(presented: string): Promise<TokenRecord> {
    const id = parseSecret(JOIN_TOKEN_PREFIX, presented)?.id;
    if (id && this.loader) {
      const t = await this.loader(id);
      if (t) this.adopt(t);
    }
    return this.check(presented);
  }
}
