/**
 * Fleets, their machines and their members, in memory over the store. Every change is written
 * to the store first and applied here only once it returned, so what the relay enforces is
 * always what is durable. Implements AccessData for the grant checks.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { parseSelector } from '../control/selector.js';
import { inFleet, type AccessData } from '../control/access.js';
import type { FleetRole } from '../control/capabilities.js';
import type { FleetRecord, MachineRecord, MemberRecord, Snapshot } from './store/records.js';
import type { RelayStore } from './store/store.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface FleetChange { name?: string; description?: string; selector?: string }

export class FleetBook implements AccessData {
  private readonly fleets = new Map<string, FleetRecord>();
  private readonly attachedSet = new Set<string>();
  private readonly byKey = new Map<string, MemberRecord[]>();

  constructor(private readonly store: RelayStore, private readonly now: () => number, s: Snapshot, private readonly changed: () => void = () => undefined) {
    this.load(s);
  }

  private load(s: Snapshot): void {
    for (const f of s.fleets) this.fleets.set(f.id, f);
    for (const x of s.fleetMachines) this.attachedSet.add(`${x.fleetId}\0${x.machineId}`);
    for (const m of s.members) this.addMemberLocal(m);
  }

  /** Replaces everything with what the store holds now (another relay node changed it). */
  reload(s: Snapshot): void {
    this.fleets.clear();
    this.attachedSet.clear();
    this.byKey.clear();
    this.load(s);
  }

  // ---- AccessData ----
  fleet(id: string): FleetRecord | undefined {
    return this.fleets.get(id);
  }
  attached(fleetId: string, machineId: string): boolean {
    return this.attachedSet.has(`${fleetId}\0${machineId}`);
  }
  memberships(keyId: string): readonly MemberRecord[] {
    return this.byKey.get(keyId) ?? [];
  }

  list(): FleetRecord[] {
    return [...this.fleets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** By id or name. */
  find(ref: string): FleetRecord {
    const f = this.fleets.get(ref) ?? [...this.fleets.values()].find((x) => x.name === ref);
    if (!f) throw new NotFoundError(`no fleet ${ref}`, { detail: 'fleet_not_found' });
    return f;
  }

  /** The machines of a fleet (attached or selected), disabled fleets included. */
  machinesOf(f: FleetRecord, all: readonly MachineRecord[]): MachineRecord[] {
    const live = { ...f, disabled: false };
    return all.filter((m) => inFleet(this, live, m));
  }

  members(fleetId: string): MemberRecord[] {
    return [...this.byKey.values()].flat().filter((m) => m.fleetId === fleetId);
  }

  async create(name: string, o: { description?: string; selector?: string } = {}): Promise<FleetRecord> {
    checkName(name);
    if (o.selector) parseSelector(o.selector);
    if ([...this.fleets.values()].some((f) => f.name === name)) throw new ConflictError(`a fleet is already called ${name}`);
    const f: FleetRecord = { id: randomUUID(), name, description: o.description ?? '', selector: o.selector ?? '', disabled: false, createdMs: this.now(), updatedMs: this.now() };
    await this.store.putFleet(f);
    this.fleets.set(f.id, f);
    this.changed();
    return f;
  }

  async update(ref: string, c: FleetChange): Promise<FleetRecord> {
    const f = this.find(ref);
    if (c.name !== undefined) checkName(c.name);
    if (c.selector) parseSelector(c.selector);
    const next: FleetRecord = { ...f, ...definedOnly(c), updatedMs: this.now() };
    await this.store.putFleet(next);
    this.fleets.set(f.id, next);
    this.changed();
    return next;
  }

  async setDisabled(ref: string, disabled: boolean): Promise<FleetRecord> {
    const f = this.find(ref);
    const next = { ...f, disabled, updatedMs: this.now() };
    await this.store.putFleet(next);
    this.fleets.set(f.id, next);
    this.changed();
    return next;
  }

  async attach(fleetId: string, machineId: string): Promise<void> {
    await this.store.attach(fleetId, machineId);
    this.attachedSet.add(`${fleetId}\0${machineId}`);
    this.changed();
  }

  /** Notes an attachment the store already made (enrolment with a fleet-bound token). */
  attachedByStore(fleetId: string, machineId: string): void {
    if (this.fleets.has(fleetId)) this.attachedSet.add(`${fleetId}\0${machineId}`);
  }

  async detach(fleetId: string, machineId: string): Promise<boolean> {
    const had = await this.store.detach(fleetId, machineId);
    this.attachedSet.delete(`${fleetId}\0${machineId}`);
    this.changed();
    return had;
  }

  async setMember(fleetId: string, keyId: string, role: FleetRole): Promise<MemberRecord> {
    const old = this.memberships(keyId).find((m) => m.fleetId === fleetId);
    const m: MemberRecord = { fleetId, keyId, role, addedMs: old?.addedMs ?? this.now() };
    await this.store.putMember(m);
    this.removeMemberLocal(fleetId, keyId);
    this.addMemberLocal(m);
    this.changed();
    return m;
  }

  async removeMember(fleetId: string, keyId: string): Promise<boolean> {
    const had = await this.store.removeMember(fleetId, keyId);
    this.removeMemberLocal(fleetId, keyId);
    this.changed();
    return had;
  }

  private addMemberLocal(m: MemberRecord): void {
    const list = this.byKey.get(m.keyId) ?? [];
    list.push(m);
    this.byKey.set(m.keyId, list);
  }

  private removeMemberLocal(fleetId: string, keyId: string): void {
    const list = (this.byKey.get(keyId) ?? []).filter((m) => m.fleetId !== fleetId);
    if (list.length) this.byKey.set(keyId, list);
    else this.byKey.delete(keyId);
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new ValidationError('a fleet name is 1-63 lowercase letters, digits and . _ -, starting with a letter or digit');
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
