/** Who is calling a relay service, and what that caller may do there. */
import { PermissionError } from '../../errors.js';
import { canAdminFleet, isGlobalAdmin } from '../../control/access.js';
import type { Logger } from '../../log.js';
import type { Conn } from '../conn.js';
import type { KeyRecord } from '../store/records.js';
import type { RelayState } from '../state.js';

export interface RelayCtx {
  log: Logger;
  conn: Conn;
}

/** The caller's key; null for the admin socket (trusted by its file mode: it may do everything). */
export function callerKey(ctx: RelayCtx): KeyRecord | null {
  if (ctx.conn.role === 'admin') return null;
  if (ctx.conn.role !== 'client' || !ctx.conn.key) throw new PermissionError('this call is for clients');
  return ctx.conn.key;
}

export function requireGlobalAdmin(ctx: RelayCtx, what: string): KeyRecord | null {
  const key = callerKey(ctx);
  if (key && !isGlobalAdmin(key)) throw new PermissionError(`${what} needs a key with the admin grant on all machines`, { detail: 'missing_grant' });
  return key;
}

export function requireFleetAdmin(ctx: RelayCtx, state: RelayState, fleetId: string, what: string): KeyRecord | null {
  const key = callerKey(ctx);
  if (key && !canAdminFleet(state.fleets, key, fleetId)) throw new PermissionError(`${what} needs the admin grant (or the admin role) on this fleet`, { detail: 'missing_grant' });
  return key;
}
