/**
 * The embedded store's records in memory: one map per table, keyed the way PostgreSQL keys the
 * table, so a lookup or a change costs one record, not the whole state. A change is a whole
 * record put or a key deleted: what the state journal writes, replayed in order on open (replaying
 * a change twice leaves the same tables). Pure: no I/O.
 *
 * Records held here are never changed in place; a mutation builds a new record and puts it.
 */
import { ValidationError } from '../../errors.js';
import type { Snapshot } from './records.js';

export type TableName = keyof Snapshot;
export type Row<T extends TableName> = Snapshot[T][number];
export type Change = { [T in TableName]: { t: T; put: Row<T> } | { t: T; del: string } }[TableName];

const KEYS: { [T in TableName]: (r: Row<T>) => string } = {
  keys: (r) => r.id,
  tokens: (r) => r.id,
  machines: (r) => r.id,
  fleets: (r) => r.id,
  fleetMachines: (r) => `${r.fleetId}\n${r.machineId}`,
  members: (r) => `${r.fleetId}\n${r.keyId}`,
  schedules: (r) => r.id,
};
const NAMES = Object.keys(KEYS) as TableName[];

/** A record's key in its table (pairs join their ids with a newline, which no id holds). */
export function keyOf<T extends TableName>(t: T, r: Row<T>): string {
  return (KEYS[t] as (r: Row<T>) => string)(r);
}

export function pairKey(a: string, b: string): string {
  return `${a}\n${b}`;
}

export class Tables {
  private readonly maps = Object.fromEntries(NAMES.map((n) => [n, new Map()])) as { [T in TableName]: Map<string, Row<T>> };
  /** Machines by public key: the first machine that holds one (enrolment finds a machine by its key). */
  private readonly byPublicKey = new Map<string, string>();

  static from(s: Snapshot): Tables {
    const t = new Tables();
    for (const n of NAMES) for (const r of s[n]) t.apply({ t: n, put: r } as Change);
    return t;
  }

  get<T extends TableName>(t: T, key: string): Row<T> | undefined {
    return this.maps[t].get(key);
  }

  has(t: TableName, key: string): boolean {
    return this.maps[t].has(key);
  }

  values<T extends TableName>(t: T): IterableIterator<Row<T>> {
    return this.maps[t].values();
  }

  machineByPublicKey(publicKey: string): Row<'machines'> | undefined {
    const id = this.byPublicKey.get(publicKey);
    return id === undefined ? undefined : this.maps.machines.get(id);
  }

  apply(c: Change): void {
    const map = this.maps[c.t] as Map<string, Row<TableName>>;
    if ('put' in c) {
      const key = keyOf(c.t, c.put as Row<typeof c.t>);
      const old = map.get(key);
      map.set(key, c.put);
      if (c.t === 'machines') this.indexMachine(old as Row<'machines'> | undefined, c.put);
    } else {
      const old = map.get(c.del);
      map.delete(c.del);
      if (c.t === 'machines') this.indexMachine(old as Row<'machines'> | undefined, undefined);
    }
  }

  private indexMachine(old: Row<'machines'> | undefined, now: Row<'machines'> | undefined): void {
    if (old && old.publicKey !== now?.publicKey && this.byPublicKey.get(old.publicKey) === old.id) {
      this.byPublicKey.delete(old.publicKey);
      for (const m of this.maps.machines.values()) { // rare: a machine's key changed; another may hold the old one
        if (m.publicKey === old.publicKey) {
          this.byPublicKey.set(m.publicKey, m.id);
          break;
        }
      }
    }
    if (now && !this.byPublicKey.has(now.publicKey)) this.byPublicKey.set(now.publicKey, now.id);
  }

  /** Every table as arrays, in insertion order (a put keeps its record's place). Shares the records. */
  view(): Snapshot {
    return Object.fromEntries(NAMES.map((n) => [n, [...this.maps[n].values()]])) as unknown as Snapshot;
  }
}

/** One journal change, checked enough that a damaged file is refused rather than half-applied. */
export function parseChange(v: unknown): Change {
  const c = v as { t?: unknown; put?: unknown; del?: unknown };
  if (typeof c !== 'object' || c === null || !NAMES.includes(c.t as TableName)) throw new ValidationError('not a state change');
  if ('put' in c && typeof c.put === 'object' && c.put !== null) return c as Change;
  if ('del' in c && typeof c.del === 'string') return c as Change;
  throw new ValidationError('not a state change');
}
