/**
 * The machine's connect PIN: a salted scrypt hash in a 0600 file, and failure counters saved to
 * disk, one per caller key (the API key the relay stamped on the stream; `local` for the local
 * socket). After 3 failures a key's attempts wait a growing delay; after 10 that key is locked
 * (even against the right PIN). The machine locks for everyone only when MACHINE_LOCK_KEYS
 * different keys have locked themselves, so one stolen key cannot deny the PIN to every user.
 * Locks hold until `cmdop-agent pin unlock` on the host. A correct PIN marks the client session
 * verified for a while. The PIN is never logged, stored or echoed; comparisons are constant-time.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '../../errors.js';
import { readJsonFile, writeFileAtomic } from '../../platform/atomic.js';

const scrypt = promisify(scryptCb) as (pin: string, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** scrypt cost: ~50 ms per check here, which also paces guessing. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, keylen: 32 };
export const DELAY_AFTER = 3;
export const LOCK_AFTER = 10;
/** Keys that must each lock themselves before the PIN locks for every caller. */
export const MACHINE_LOCK_KEYS = 3;
/** Failure records kept (the oldest unlocked ones go first): bounds the state file. */
const MAX_TRACKED_KEYS = 1000;
const MAX_DELAY_MS = 5 * 60_000;

interface PinFile {
  v: 1;
  salt: string;
  hash: string;
  N: number;
  r: number;
  p: number;
  setAtMs: number;
}

interface FailState {
  failures: number;
  lastFailureMs: number;
  locked: boolean;
}

/** pin-state.json. Version 1 was one machine-wide FailState; read as the machine's lock. */
interface GateState {
  v: 2;
  keys: Record<string, FailState>;
  machineLocked: boolean;
}

const fresh = (): FailState => ({ failures: 0, lastFailureMs: 0, locked: false });

function readState(file: string): GateState | null {
  const raw = readJsonFile<Partial<GateState> & Partial<FailState>>(file);
  if (!raw) return null;
  if (raw.v === 2) return { v: 2, keys: raw.keys ?? {}, machineLocked: !!raw.machineLocked };
  return { v: 2, keys: {}, machineLocked: !!raw.locked };
}

/** The key part of a caller (`keyId/linkId` from the relay, `local/...` from the local socket). */
export function callerKey(caller: string): string {
  const slash = caller.indexOf('/');
  return slash < 0 ? caller : caller.slice(0, slash);
}

export type PinResult = { ok: true } | { ok: false; reason: string; retryAfterMs?: number; locked?: boolean };

/** Refuses PINs that are too short, not digits, or trivial (one digit repeated, a run up or down, well-known ones). */
export function validatePin(pin: string, minLength: number): void {
  if (!/^\d+$/.test(pin)) throw new ValidationError('a PIN is digits only');
  if (pin.length < minLength) throw new ValidationError(`a PIN needs at least ${minLength} digits`);
  if (pin.length > 64) throw new ValidationError('a PIN has at most 64 digits');
  const d = [...pin].map(Number);
  const steps = new Set(d.slice(1).map((x, i) => (x - d[i]! + 10) % 10));
  if (steps.size === 1 && (steps.has(0) || steps.has(1) || steps.has(9))) throw new ValidationError('that PIN is too easy to guess (repeated or sequential digits)');
  const half = pin.length / 2;
  if (pin.length % 2 === 0 && pin.slice(0, half) === pin.slice(half) && new Set(pin).size <= 2) throw new ValidationError('that PIN is too easy to guess (a repeated pattern)');
  if (['121212', '112233', '123123', '696969', '102030', '147258', '159753', '789456', '852456'].includes(pin)) throw new ValidationError('that PIN is too easy to guess');
}

/** The delay before the next attempt is allowed, after `failures` failures. */
export function delayAfter(failures: number): number {
  if (failures < DELAY_AFTER) return 0;
  return Math.min(MAX_DELAY_MS, 1000 * 2 ** (failures - DELAY_AFTER));
}

export class PinGate {
  private readonly pinFile: string;
  private readonly stateFile: string;
  private readonly verified = new Map<string, number>();
  private state: GateState;
  /** One check at a time, so that parallel guesses cannot outrun the counter. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(stateDir: string, private readonly verifyMs: number, private readonly now: () => number = Date.now) {
    this.pinFile = join(stateDir, 'pin.json');
    this.stateFile = join(stateDir, 'pin-state.json');
    this.state = readState(this.stateFile) ?? { v: 2, keys: {}, machineLocked: false };
  }

  get configured(): boolean {
    return existsSync(this.pinFile);
  }

  /** Locked for every caller. */
  get locked(): boolean {
    return this.state.machineLocked;
  }

  /** Failures counted now, over every key. */
  get failures(): number {
    return Object.values(this.state.keys).reduce((n, k) => n + k.failures, 0);
  }

  /** Keys locked out on their own. */
  get lockedKeys(): string[] {
    return Object.entries(this.state.keys).filter(([, k]) => k.locked).map(([id]) => id);
  }

  async set(pin: string, minLength: number): Promise<void> {
    validatePin(pin, minLength);
    const salt = randomBytes(16);
    const hash = await scrypt(pin, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 });
    const f: PinFile = { v: 1, salt: salt.toString('hex'), hash: hash.toString('hex'), N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, setAtMs: this.now() };
    writeFileAtomic(this.pinFile, JSON.stringify(f));
    this.saveState({ v: 2, keys: {}, machineLocked: false });
    this.verified.clear();
  }

  /** Clears every lock and counter (the machine's and each key's). */
  unlock(): void {
    this.saveState({ v: 2, keys: {}, machineLocked: false });
  }

  isVerified(caller: string): boolean {
    const until = this.verified.get(caller);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.verified.delete(caller);
    return false;
  }

  /** Checks a PIN for a caller; serialised, counted and persisted. */
  attempt(caller: string, pin: string): Promise<PinResult> {
    const run = this.queue.then(() => this.check(caller, pin));
    this.queue = run.catch(() => {});
    return run;
  }

  private async check(caller: string, pin: string): Promise<PinResult> {
    this.state = readState(this.stateFile) ?? this.state; // another process (pin unlock) may have changed it
    if (this.state.machineLocked) return { ok: false, reason: 'the PIN is locked after too many failures from several keys: run `cmdop-agent pin unlock` on the host', locked: true };
    const key = callerKey(caller);
    const mine = this.state.keys[key] ?? fresh();
    if (mine.locked) return { ok: false, reason: 'the PIN is locked for this API key after too many failures: run `cmdop-agent pin unlock` on the host', locked: true };
    const wait = mine.lastFailureMs + delayAfter(mine.failures) - this.now();
    if (wait > 0) return { ok: false, reason: 'too many wrong PINs: wait before trying again', retryAfterMs: wait };
    const f = readJsonFile<PinFile>(this.pinFile);
    if (!f) return { ok: false, reason: 'no PIN is set on this machine' };
    const expected = Buffer.from(f.hash, 'hex');
    const got = await scrypt(String(pin), Buffer.from(f.salt, 'hex'), expected.length, { N: f.N, r: f.r, p: f.p, maxmem: 64 * 1024 * 1024 });
    if (timingSafeEqual(got, expected)) {
      const { [key]: _cleared, ...others } = this.state.keys;
      this.saveState({ ...this.state, keys: others });
      this.verified.set(caller, this.now() + this.verifyMs);
      return { ok: true };
    }
    const failures = mine.failures + 1;
    const locked = failures >= LOCK_AFTER;
    const keys = trimKeys({ ...this.state.keys, [key]: { failures, lastFailureMs: this.now(), locked } });
    const machineLocked = Object.values(keys).filter((k) => k.locked).length >= MACHINE_LOCK_KEYS;
    this.saveState({ v: 2, keys, machineLocked });
    if (machineLocked) return { ok: false, reason: 'wrong PIN; several keys have now failed too often and the PIN is locked for everyone: run `cmdop-agent pin unlock` on the host', locked: true };
    if (locked) return { ok: false, reason: 'wrong PIN; the PIN is now locked for this API key: run `cmdop-agent pin unlock` on the host', locked: true };
    const retryAfterMs = delayAfter(failures);
    return { ok: false, reason: `wrong PIN (${LOCK_AFTER - failures} attempts left before it locks for this key)`, ...(retryAfterMs ? { retryAfterMs } : {}) };
  }

  private saveState(s: GateState): void {
    this.state = s;
    writeFileAtomic(this.stateFile, JSON.stringify(s));
  }
}


/** Keeps at most MAX_TRACKED_KEYS records, dropping the oldest unlocked ones first. */
function trimKeys(keys: Record<string, FailState>): Record<string, FailState> {
  const entries = Object.entries(keys);
  if (entries.length <= MAX_TRACKED_KEYS) return keys;
  entries.sort(([, a], [, b]) => Number(b.locked) - Number(a.locked) || b.lastFailureMs - a.lastFailureMs);
  return Object.fromEntries(entries.slice(0, MAX_TRACKED_KEYS));
}
