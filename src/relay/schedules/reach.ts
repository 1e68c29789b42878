/**
 * Which machines a schedule runs on now, and with what: its target as it is at this moment
 * (a fleet's machines, a selector's matches), cut to where its creating key may run its action.
 * A revoked or expired key reaches nothing, so its schedules stop.
 */
import { inFleet, keyLive, selects } from '../../control/access.js';
import { CAPABILITIES } from '../../control/capabilities.js';
import { actionCapability, type ScheduleRecord } from '../../control/schedules/spec.js';
import type { MachineRecord } from '../store/records.js';
import type { RelayState } from '../state.js';

export function targets(state: RelayState, s: ScheduleRecord, m: MachineRecord): boolean {
  const t = s.target;
  if (t.kind === 'machine') return t.id === m.id;
  if (t.kind === 'fleet') return inFleet(state.fleets, state.fleets.fleet(t.id), m);
  return selects(t.selector, m.labels);
}

/** The creating key's capabilities on `m` ([] = it may not run there); '' = made on the admin socket. */
export function keyCaps(state: RelayState, s: ScheduleRecord, m: MachineRecord): string[] {
  if (!s.keyId) return [...CAPABILITIES];
  const key = state.key(s.keyId);
  if (!key || !keyLive(key, state.now())) return [];
  const caps = state.capsOn(key, m);
  return caps.has(actionCapability(s.action)) ? [...caps] : [];
}

/** The enabled schedules that run on `m` now, with the key's capabilities there. */
export function schedulesFor(state: RelayState, m: MachineRecord): { schedule: ScheduleRecord; caps: string[] }[] {
  if (m.disabled) return [];
  const out: { schedule: ScheduleRecord; caps: string[] }[] = [];
  for (const s of state.schedules.list()) {
    if (!s.enabled || !targets(state, s, m)) continue;
    const caps = keyCaps(state, s, m);
    if (caps.length) out.push({ schedule: s, caps });
  }
  return out;
}

/** The machines a schedule runs on now. */
export function machinesOf(state: RelayState, s: ScheduleRecord): MachineRecord[] {
  return state.machines().filter((m) => !m.disabled && targets(state, s, m) && keyCaps(state, s, m).length > 0);
}
