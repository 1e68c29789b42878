/** Records as the wire shows them (secrets' hashes never leave the relay). */
import type { cmdop } from '../../protocol/gen/cmdop.js';
import type { FleetRecord, Grant, KeyRecord, MemberRecord, TokenRecord } from '../store/records.js';
import { parseCapabilities } from '../../control/capabilities.js';
import { parseSelector } from '../../control/selector.js';
import { ValidationError } from '../../errors.js';

export const grantView = (g: Grant): cmdop.v1.IGrant => ({ on: g.on, ids: g.on === 'fleets' || g.on === 'machines' ? g.ids : [], selector: g.on === 'selector' ? g.selector : '', caps: g.caps });
export const keyView = (k: KeyRecord): cmdop.v1.IApiKey => ({ id: k.id, name: k.name, createdMs: k.createdMs, revoked: k.revoked, lastUsedMs: k.lastUsedMs, expiresMs: k.expiresMs ?? 0, grants: k.grants.map(grantView) });
export const tokenView = (t: TokenRecord): cmdop.v1.IJoinToken => ({ id: t.id, createdMs: t.createdMs, expiresMs: t.expiresMs, usesLeft: t.usesLeft ?? 0, unlimited: t.usesLeft === null, labels: t.labels, revoked: t.revoked, uses: t.uses, fleetId: t.fleetId });
export const fleetView = (f: FleetRecord, machineCount: number): cmdop.v1.IFleet => ({ ...f, machineCount });
export const memberView = (m: MemberRecord, keyName: string): cmdop.v1.IMember => ({ fleetId: m.fleetId, keyId: m.keyId, keyName, role: m.role, addedMs: m.addedMs });

/** A grant from the wire, checked: a known reach and known capabilities. */
export function grantFromWire(g: cmdop.v1.IGrant): Grant {
  const caps = parseCapabilities(g.caps ?? []);
  switch (g.on) {
    case 'all':
      return { on: 'all', caps };
    case 'fleets':
    case 'machines':
      if (!g.ids?.length) throw new ValidationError(`a grant on ${g.on} lists at least one`);
      return { on: g.on, ids: [...g.ids], caps };
    case 'selector':
      if (!parseSelector(g.selector ?? '').length) throw new ValidationError('a selector grant needs a selector');
      return { on: 'selector', selector: g.selector!, caps };
    default:
      throw new ValidationError(`a grant is on all, fleets, machines or selector, not ${JSON.stringify(g.on)}`);
  }
}

/** A page of items sorted by `sortKey`, after an opaque cursor. */
export function page<T>(items: readonly T[], sortKey: (t: T) => string, limit: number, cursor: string, max = 1000): { items: T[]; next: string } {
  const n = limit || 100;
  if (n > max) throw new ValidationError(`limit must be at most ${max}`);
  const after = cursor ? Buffer.from(cursor, 'base64url').toString() : null;
  const sorted = [...items].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0)).filter((t) => after === null || sortKey(t) > after);
  const out = sorted.slice(0, n);
  return { items: out, next: sorted.length > n ? Buffer.from(sortKey(out[out.length - 1]!)).toString('base64url') : '' };
}
