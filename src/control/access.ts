/**
 * What a key may do where (pure): the union of its own grants and the roles its fleet
 * memberships give it, evaluated against one machine. A machine outside every grant is outside
 * the key's reach: the relay lists it nowhere and answers "not found" for it.
 */
import { CAPABILITIES, ROLE_CAPABILITIES, type Capability } from './capabilities.js';
import { matches, parseSelector, type Term } from './selector.js';
import type { FleetRecord, Grant, KeyRecord, MachineRecord, MemberRecord } from '../relay/store/records.js';

export interface AccessData {
  fleet(id: string): FleetRecord | undefined;
  attached(fleetId: string, machineId: string): boolean;
  memberships(keyId: string): readonly MemberRecord[];
}

const parsed = new Map<string, Term[]>();
function terms(selector: string): Term[] {
  let t = parsed.get(selector);
  if (!t) {
    t = parseSelector(selector);
    if (parsed.size > 10_000) parsed.clear();
    parsed.set(selector, t);
  }
  return t;
}

export function selects(selector: string, labels: Readonly<Record<string, string>>): boolean {
  const t = terms(selector);
  return t.length > 0 && matches(t, labels);
}

/** A machine is in a live fleet when attached to it, or its labels match the fleet's selector. */
export function inFleet(d: AccessData, fleet: FleetRecord | undefined, m: MachineRecord): boolean {
  if (!fleet || fleet.disabled) return false;
  return d.attached(fleet.id, m.id) || (fleet.selector !== '' && selects(fleet.selector, m.labels));
}

function reaches(d: AccessData, g: Grant, m: MachineRecord): boolean {
  switch (g.on) {
    case 'all':
      return true;
    case 'machines':
      return g.ids.includes(m.id);
    case 'fleets':
      return g.ids.some((id) => inFleet(d, d.fleet(id), m));
    case 'selector':
      return selects(g.selector, m.labels);
  }
}

export function keyLive(k: KeyRecord, nowMs: number): boolean {
  return !k.revoked && (k.expiresMs === null || k.expiresMs > nowMs);
}

/** The capabilities `key` has on machine `m` (empty: out of reach). */
export function capsOn(d: AccessData, key: KeyRecord, m: MachineRecord): Set<Capability> {
  const out = new Set<Capability>();
  for (const g of key.grants) if (reaches(d, g, m)) for (const c of g.caps) out.add(c);
  if (out.size === CAPABILITIES.length) return out;
  for (const mem of d.memberships(key.id)) {
    if (inFleet(d, d.fleet(mem.fleetId), m)) for (const c of ROLE_CAPABILITIES[mem.role]) out.add(c);
  }
  return out;
}

/** `admin` on every machine: may issue keys, create fleets, read every audit record. */
export function isGlobalAdmin(key: KeyRecord): boolean {
  return key.grants.some((g) => g.on === 'all' && g.caps.includes('admin'));
}

/** May change this fleet (its settings, machines and members). */
export function canAdminFleet(d: AccessData, key: KeyRecord, fleetId: string): boolean {
  if (isGlobalAdmin(key)) return true;
  if (key.grants.some((g) => g.on === 'fleets' && g.ids.includes(fleetId) && g.caps.includes('admin'))) return true;
  return d.memberships(key.id).some((m) => m.fleetId === fleetId && m.role === 'admin');
}

/** May see this fleet at all (it has a grant or a membership naming it). */
export function canSeeFleet(d: AccessData, key: KeyRecord, fleetId: string): boolean {
  if (isGlobalAdmin(key) || key.grants.some((g) => g.on === 'all')) return true;
  if (key.grants.some((g) => g.on === 'fleets' && g.ids.includes(fleetId))) return true;
  return d.memberships(key.id).some((m) => m.fleetId === fleetId);
}
