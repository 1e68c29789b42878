/**
 * The relay's machines in memory, by id and by public key (an enrolment looks a host up by its
 * key: a host that lost its machine id gets its old record back). A record is updated in place,
 * so every holder of it sees the change.
 */
import type { MachineRecord } from './store/records.js';

export class MachineMap {
  private readonly byId = new Map<string, MachineRecord>();
  private readonly byKey = new Map<string, MachineRecord>();

  get(id: string): MachineRecord | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  values(): IterableIterator<MachineRecord> {
    return this.byId.values();
  }

  byPublicKey(publicKey: string): MachineRecord | undefined {
    return this.byKey.get(publicKey);
  }

  /** Adds `rec`, or copies it onto the record with its id; returns the record held. */
  merge(rec: MachineRecord): MachineRecord {
    const cur = this.byId.get(rec.id);
    if (cur && cur.publicKey !== rec.publicKey && this.byKey.get(cur.publicKey) === cur) this.byKey.delete(cur.publicKey);
    const held = cur ? Object.assign(cur, rec) : rec;
    if (!cur) this.byId.set(rec.id, rec);
    if (!this.byKey.has(held.publicKey)) this.byKey.set(held.publicKey, held);
    return held;
  }
}
