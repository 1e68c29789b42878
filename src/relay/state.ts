/**
 * The relay's records in memory over a RelayStore: keys, join tokens, machines (and, in
 * FleetBook, fleets). Reads are answered from memory (a stream open must not wait on a
 * database); every security-relevant change is written to the store first and applied here
 * only once the store took it. Last-seen and last-used times are saved in the background (at
 * most every PRESENCE_SAVE_MS): losing one costs nothing.
 */
import { randomUUID } from 'node:crypto';
import { AuthError, NotFoundError, PermissionError, ValidationError } from '../errors.js';
import { CAPABILITIES } from '../control/capabilities.js';
import { capsOn, keyLive } from '../control/access.js';
import { newSecret, parseSecret, secretMatches, API_KEY_PREFIX } from './secrets.js';
import type { Grant, KeyRecord, MachineRecord, TokenRecord } from './store/records.js';
import type { RelayStore } from './store/store.js';
import { FleetBook } from './fleets.js';
import { ScheduleBook } from './schedules/book.js';
import { MAX_TOKEN_TTL_MS, TokenBook } from './tokens.js';
import { MachineMap } from './machine-map.js';

/** Background save interval for last-seen times. */
export const PRESENCE_SAVE_MS = 30_000;
export { DEFAULT_TOKEN_TTL_MS, MAX_TOKEN_TTL_MS, type IssuedToken } from './tokens.js';
/** Everything, everywhere: what a bootstrap key from `cmdop-relay keys issue` gets by default. */
export const FULL_ACCESS: Grant[] = [{ on: 'all', caps: [...CAPABILITIES] }];

export interface IssuedKey { key: KeyRecord; secret: string }

/** Called after a change; `machines` set = only those machines' records changed. */
export type ChangeListener = (machines?: readonly string[]) => void;

/** Single-record loads from a store other relay nodes write too (cluster mode). */
export interface RecordLoader {
  key(id: string): Promise<KeyRecord | null>;
  machine(id: string): Promise<MachineRecord | null>;
}

/** Merges a record another node wrote into the one in memory, in place (live links hold it). */
function merge<T extends { id: string }>(map: Map<string, T>, rec: T): void {
  const cur = map.get(rec.id);
  if (cur) Object.assign(cur, rec);
  else map.set(rec.id, rec);
}

export class RelayState {
  readonly fleets: FleetBook;
  readonly schedules: ScheduleBook;
  private readonly listeners = new Set<ChangeListener>();
  private readonly keys = new Map<string, KeyRecord>();
  readonly tokens: TokenBook;
  private readonly machinesById = new MachineMap();
  private readonly seenDirty = new Set<string>();
  private readonly usedDirty = new Set<string>();
  private dirtyTimer: NodeJS.Timeout | undefined;
  /** Set in cluster mode: a record missing here may have been written by another node just now. */
  loader: RecordLoader | null = null;

  private constructor(readonly store: RelayStore, readonly now: () => number, s: Awaited<ReturnType<RelayStore['snapshot']>>) {
    for (const k of s.keys) this.keys.set(k.id, k);
    this.tokens = new TokenBook(store, now, s.tokens, (ref) => this.fleets.find(ref).id);
    for (const m of s.machines) this.machinesById.merge(m);
    this.fleets = new FleetBook(store, now, s, () => this.changed());
    this.schedules = new ScheduleBook(store, now, s.schedules);
    this.schedules.onChange(() => this.changed());
  }

  /**
   * Calls `fn` after every change that can alter what a key may do where (a revocation, a
   * machine's labels or state, a fleet, a schedule): the schedule push recomputes from it. With
   * `machines`, only those machines' records changed, so only their sets can differ.
   */
  onChange(fn: ChangeListener): void {
    this.listeners.add(fn);
  }

  private changed(machines?: readonly string[]): void {
    for (const fn of this.listeners) fn(machines);
  }

  // ---- records other relay nodes wrote (cluster sync) ----

  /** Records another node wrote, merged in place (live links hold them), with one change call. */
  adopt(r: { keys: readonly KeyRecord[]; tokens: readonly TokenRecord[]; machines: readonly MachineRecord[] }): void {
    for (const k of r.keys) merge(this.keys, k);
    for (const t of r.tokens) this.tokens.adopt(t);
    for (const m of r.machines) {
      const cur = this.machinesById.get(m.id);
      this.machinesById.merge(cur ? { ...m, lastSeenMs: Math.max(m.lastSeenMs, cur.lastSeenMs) } : m);
    }
    if (r.keys.length) this.changed();
    else if (r.machines.length) this.changed(r.machines.map((m) => m.id));
  }

  /** Everything as the store holds it now (a resync after missed notifications). */
  adoptSnapshot(s: Awaited<ReturnType<RelayStore['snapshot']>>): void {
    for (const k of s.keys) merge(this.keys, k);
    for (const t of s.tokens) this.tokens.adopt(t);
    for (const m of s.machines) this.machinesById.merge({ ...m, lastSeenMs: Math.max(m.lastSeenMs, this.machinesById.get(m.id)?.lastSeenMs ?? 0) });
    this.fleets.reload(s);
    this.schedules.reload(s.schedules);
    this.changed();
  }

  /** verifyKey, after loading the key from the store if this node has not seen it yet. */
  async verifyKeyFresh(presented: string): Promise<KeyRecord> {
    const id = parseSecret(API_KEY_PREFIX, presented)?.id;
    if (id && this.loader && !this.keys.has(id)) {
      const k = await this.loader.key(id);
      if (k) merge(this.keys, k);
    }
    return this.verifyKey(presented);
  }

  async machineFresh(id: string): Promise<MachineRecord | undefined> {
    if (this.loader && !this.machinesById.has(id)) {
      const m = await this.loader.machine(id);
      if (m) this.machinesById.merge(m);
    }
    return this.machinesById.get(id);
  }

  static async open(store: RelayStore, now: () => number = Date.now): Promise<RelayState> {
    return new RelayState(store, now, await store.snapshot());
  }

  /** Saves the background times now. */
  async flush(): Promise<void> {
    clearTimeout(this.dirtyTimer);
    this.dirtyTimer = undefined;
    const seen = [...this.seenDirty].map((id) => this.machinesById.get(id)).filter((m) => m !== undefined);
    const used = [...this.usedDirty].map((id) => this.keys.get(id)).filter((k) => k !== undefined);
    this.seenDirty.clear();
    this.usedDirty.clear();
    await this.store.touchMachines(seen.map((m) => ({ id: m.id, lastSeenMs: m.lastSeenMs, agentVersion: m.agentVersion })));
    await this.store.touchKeys(used.map((k) => ({ id: k.id, lastUsedMs: k.lastUsedMs })));
  }

  private touch(): void {
    if (this.dirtyTimer) return;
    this.dirtyTimer = setTimeout(() => void this.flush().catch(() => undefined), PRESENCE_SAVE_MS);
    this.dirtyTimer.unref();
  }

  async dispose(): Promise<void> {
    if (this.dirtyTimer) await this.flush().catch(() => undefined);
  }

  // ---- API keys ----

  async issueKey(o: { name: string; grants?: Grant[]; ttlMs?: number }): Promise<IssuedKey> {
    if (o.ttlMs !== undefined && !(o.ttlMs > 0 && o.ttlMs <= MAX_TOKEN_TTL_MS)) throw new ValidationError('a key lifetime is between 1 ms and 365 days');
    const grants = o.grants ?? FULL_ACCESS;
    for (const g of grants) {
      if (g.on === 'fleets') for (const id of g.ids) this.fleets.find(id);
      if (g.on === 'machines') for (const id of g.ids) if (!this.machinesById.has(id)) throw new NotFoundError(`no machine ${id}`);
    }
    const s = newSecret(API_KEY_PREFIX);
    const key: KeyRecord = { id: s.id, name: o.name || 'unnamed', hash: s.hash, createdMs: this.now(), expiresMs: o.ttlMs ? this.now() + o.ttlMs : null, revoked: false, lastUsedMs: 0, grants };
    await this.store.putKey(key);
    this.keys.set(key.id, key);
    return { key, secret: s.secret };
  }

  listKeys(): KeyRecord[] {
    return [...this.keys.values()];
  }

  key(id: string): KeyRecord | undefined {
    return this.keys.get(id);
  }

  /** Revokes in the store first; only then is the key refused here (and its links closed by the caller). */
  async revokeKey(id: string): Promise<KeyRecord> {
    const key = this.keys.get(id);
    if (!key || !(await this.store.revokeKey(id))) throw new NotFoundError(`no API key with id ${id}`);
    key.revoked = true;
    this.changed();
    return key;
  }

  /** Checks a presented API key; the same error for every failure so nothing is revealed. */
  verifyKey(presented: string): KeyRecord {
    const parsed = parseSecret(API_KEY_PREFIX, presented);
    const key = parsed ? this.keys.get(parsed.id) : undefined;
    // Compare even when there is no record, so timing does not tell which part was wrong.
    const ok = secretMatches(parsed?.secretPart ?? '', key?.hash ?? '0'.repeat(64));
    if (!parsed || !key || !ok || key.revoked) throw new AuthError('invalid or revoked API key');
    if (!keyLive(key, this.now())) throw new AuthError('API key expired', { detail: 'key_expired' });
    key.lastUsedMs = this.now();
    this.usedDirty.add(key.id);
    this.touch();
    return key;
  }

  /** A key named by id (a console session's), if it is still in force: the same errors as verifyKey. */
  keyInForce(id: string): KeyRecord {
    const key = this.keys.get(id);
    if (!key || key.revoked) throw new AuthError('invalid or revoked API key');
    if (!keyLive(key, this.now())) throw new AuthError('API key expired', { detail: 'key_expired' });
    return key;
  }

  /** The capabilities a key has on a machine now (empty: out of its reach). */
  capsOn(key: KeyRecord, m: MachineRecord): Set<string> {
    if (!keyLive(key, this.now())) return new Set();
    return capsOn(this.fleets, key, m);
  }

  // ---- machines ----

  machines(): MachineRecord[] {
    return [...this.machinesById.values()];
  }

  machine(id: string): MachineRecord | undefined {
    return this.machinesById.get(id);
  }

  /** A live agent was heard from (saved in the background). */
  seen(id: string): void {
    const m = this.machinesById.get(id);
    if (!m) return;
    m.lastSeenMs = this.now();
    this.seenDirty.add(id);
    this.touch();
  }

  private async putMachine(next: MachineRecord): Promise<MachineRecord> {
    await this.store.putMachine(next);
    const held = this.machinesById.merge(next);
    this.changed([next.id]);
    return held;
  }

  /** Renames a machine or replaces its labels. */
  async updateMachine(id: string, o: { name?: string; labels?: Record<string, string> }): Promise<MachineRecord> {
    const m = this.machine(id);
    if (!m) throw new NotFoundError(`no machine ${id}`);
    if (o.name !== undefined && !/^[\w.@:-]{1,128}$/.test(o.name)) throw new ValidationError('a machine name is 1-128 letters, digits and . _ - @ :');
    return this.putMachine({ ...m, ...(o.name !== undefined ? { name: o.name } : {}), ...(o.labels !== undefined ? { labels: o.labels } : {}) });
  }

  async setDisabled(id: string, disabled: boolean): Promise<MachineRecord> {
    const m = this.machine(id);
    if (!m) throw new NotFoundError(`no machine ${id}`);
    return this.putMachine({ ...m, disabled });
  }

  /** Records the agent version a machine reconnected with (saved with the last-seen times). */
  noteVersion(id: string, agentVersion: string): void {
    const m = this.machinesById.get(id);
    if (!m || m.agentVersion === agentVersion) return;
    m.agentVersion = agentVersion;
    this.seen(id);
  }

  /**
   * Enrols a machine with a checked token and a proven public key, in one store transaction. A
   * host that enrols again with the same key (it lost its machine id) gets its old record back.
   */
  async enroll(token: TokenRecord, m: Pick<MachineRecord, 'hostname' | 'labels' | 'publicKey' | 'agentVersion' | 'os' | 'arch'>): Promise<MachineRecord> {
    const known = this.machinesById.byPublicKey(m.publicKey);
    if (known?.disabled) throw new PermissionError('this machine is disabled on the relay');
    const rec: MachineRecord = { ...m, id: randomUUID(), name: m.hostname, labels: { ...token.labels, ...m.labels }, enrolledMs: this.now(), lastSeenMs: this.now(), disabled: false };
    const r = await this.store.enroll(token.id, rec, this.now());
    this.tokens.adopt(r.token);
    const held = this.machinesById.merge(r.machine);
    if (r.token.fleetId) this.fleets.attachedByStore(r.token.fleetId, r.machine.id);
    return held;
  }
}
