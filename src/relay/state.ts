/**
 * The relay's records (API keys, join tokens, machines) in memory, persisted through a
 * RelayStore. Security-relevant changes are saved before they take effect; presence timestamps
 * are saved in the background (at most every PRESENCE_SAVE_MS) because losing one costs nothing.
 */
import { AuthError, NotFoundError, PermissionError, ValidationError } from '../errors.js';
import { newSecret, parseSecret, secretMatches, API_KEY_PREFIX, JOIN_TOKEN_PREFIX } from './secrets.js';
import type { KeyRecord, MachineRecord, RelayData, RelayStore, TokenRecord } from './store.js';
import { randomUUID } from 'node:crypto';

/** Background save interval for last-seen times. */
export const PRESENCE_SAVE_MS = 30_000;
/** Default lifetime of a join token. */
export const DEFAULT_TOKEN_TTL_MS = 24 * 3600_000;
/** Longest lifetime a join token may have. */
export const MAX_TOKEN_TTL_MS = 365 * 24 * 3600_000;

export interface IssuedKey { key: KeyRecord; secret: string }
export interface IssuedToken { token: TokenRecord; secret: string }

export class RelayState {
  private data: RelayData;
  private dirtyTimer: NodeJS.Timeout | undefined;

  constructor(private readonly store: RelayStore, private readonly now: () => number = Date.now) {
    this.data = store.load();
  }

  save(): void {
    clearTimeout(this.dirtyTimer);
    this.dirtyTimer = undefined;
    this.store.save(this.data);
  }

  /** Schedules a background save (presence). */
  touch(): void {
    if (this.dirtyTimer) return;
    this.dirtyTimer = setTimeout(() => this.save(), PRESENCE_SAVE_MS);
    this.dirtyTimer.unref();
  }

  dispose(): void {
    if (this.dirtyTimer) this.save();
  }

  // ---- API keys ----

  issueKey(name: string): IssuedKey {
    const s = newSecret(API_KEY_PREFIX);
    const key: KeyRecord = { id: s.id, name: name || 'unnamed', hash: s.hash, createdMs: this.now(), revoked: false, lastUsedMs: 0 };
    this.data.keys.push(key);
    this.save();
    return { key, secret: s.secret };
  }

  listKeys(): KeyRecord[] {
    return this.data.keys;
  }

  revokeKey(id: string): KeyRecord {
    const key = this.data.keys.find((k) => k.id === id);
    if (!key) throw new NotFoundError(`no API key with id ${id}`);
    key.revoked = true;
    this.save();
    return key;
  }

  /** Checks a presented API key; the same error for every failure so nothing is revealed. */
  verifyKey(presented: string): KeyRecord {
    const parsed = parseSecret(API_KEY_PREFIX, presented);
    const key = parsed ? this.data.keys.find((k) => k.id === parsed.id) : undefined;
    // Compare even when there is no record, so timing does not tell which part was wrong.
    const ok = secretMatches(parsed?.secretPart ?? '', key?.hash ?? '0'.repeat(64));
    if (!parsed || !key || !ok || key.revoked) throw new AuthError('invalid or revoked API key');
    key.lastUsedMs = this.now();
    this.touch();
    return key;
  }

  // ---- join tokens ----

  issueToken(o: { ttlMs?: number; uses?: number | null; labels?: Record<string, string> }): IssuedToken {
    const ttl = o.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    if (!(ttl > 0 && ttl <= MAX_TOKEN_TTL_MS)) throw new ValidationError('token lifetime must be between 1 ms and 365 days');
    const uses = o.uses === undefined ? 1 : o.uses;
    if (uses !== null && !(Number.isInteger(uses) && uses > 0)) throw new ValidationError('uses must be a positive integer (or unlimited)');
    const s = newSecret(JOIN_TOKEN_PREFIX);
    const token: TokenRecord = { id: s.id, hash: s.hash, createdMs: this.now(), expiresMs: this.now() + ttl, usesLeft: uses, uses: 0, labels: o.labels ?? {}, revoked: false };
    this.data.tokens.push(token);
    this.save();
    return { token, secret: s.secret };
  }

  listTokens(): TokenRecord[] {
    return this.data.tokens;
  }

  revokeToken(id: string): TokenRecord {
    const t = this.data.tokens.find((k) => k.id === id);
    if (!t) throw new NotFoundError(`no join token with id ${id}`);
    t.revoked = true;
    this.save();
    return t;
  }

  /** Checks a join token without using it up. */
  checkToken(presented: string): TokenRecord {
    const parsed = parseSecret(JOIN_TOKEN_PREFIX, presented);
    const t = parsed ? this.data.tokens.find((k) => k.id === parsed.id) : undefined;
    const ok = secretMatches(parsed?.secretPart ?? '', t?.hash ?? '0'.repeat(64));
    if (!parsed || !t || !ok || t.revoked) throw new AuthError('invalid or revoked join token');
    if (t.expiresMs <= this.now()) throw new AuthError('join token expired');
    if (t.usesLeft !== null && t.usesLeft <= 0) throw new AuthError('join token already used up');
    return t;
  }

  // ---- machines ----

  machines(): readonly MachineRecord[] {
    return this.data.machines;
  }

  machine(id: string): MachineRecord | undefined {
    return this.data.machines.find((m) => m.id === id);
  }

  /** Renames a machine or replaces its labels. */
  updateMachine(id: string, o: { name?: string; labels?: Record<string, string> }): MachineRecord {
    const m = this.machine(id);
    if (!m) throw new NotFoundError(`no machine ${id}`);
    if (o.name !== undefined) {
      if (!/^[\w.@:-]{1,128}$/.test(o.name)) throw new ValidationError('a machine name is 1-128 letters, digits and . _ - @ :');
      m.name = o.name;
    }
    if (o.labels !== undefined) m.labels = o.labels;
    this.save();
    return m;
  }

  setDisabled(id: string, disabled: boolean): MachineRecord {
    const m = this.machine(id);
    if (!m) throw new NotFoundError(`no machine ${id}`);
    m.disabled = disabled;
    this.save();
    return m;
  }

  /**
   * Enrols a machine with a checked token and a proven public key. A host that enrols again with
   * the same key (it lost its machine id) gets its old record back.
   */
  enroll(token: TokenRecord, m: Omit<MachineRecord, 'id' | 'enrolledMs' | 'lastSeenMs' | 'disabled' | 'name'>): MachineRecord {
    let rec = this.data.machines.find((x) => x.publicKey === m.publicKey);
    if (rec?.disabled) throw new PermissionError('this machine is disabled on the relay');
    if (token.usesLeft !== null) token.usesLeft--;
    token.uses++;
    if (!rec) {
      rec = { ...m, id: randomUUID(), name: m.hostname, labels: { ...token.labels, ...m.labels }, enrolledMs: this.now(), lastSeenMs: this.now(), disabled: false };
      this.data.machines.push(rec);
    } else {
      Object.assign(rec, { hostname: m.hostname, agentVersion: m.agentVersion, os: m.os, arch: m.arch });
    }
    this.save();
    return rec;
  }
}
