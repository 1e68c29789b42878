/**
 * Security changes applied to live links: a revoked or expired key's client links close, a
 * disabled machine's agent link closes. Run after a change made here (the admin and API calls)
 * and after one another relay node made (cluster sync), so a revoke is never reported done while
 * a link of that key is still up on this node.
 */
import { AuthError, PermissionError } from '../errors.js';
import { CLOSE_POLICY } from '../link/link.js';
import { keyLive } from '../control/access.js';
import type { Conn } from './conn.js';
import type { RelayState } from './state.js';

/** Closes every live client link that authenticated with `keyId`; returns how many. */
export function closeKeyLinks(conns: Iterable<Conn>, keyId: string): number {
  let n = 0;
  for (const c of conns) {
    if (c.role === 'client' && c.keyId === keyId) {
      c.link.close(new AuthError('API key revoked'), CLOSE_POLICY);
      n++;
    }
  }
  return n;
}

/** Closes the live links that may no longer be up. */
export function enforceOnLinks(conns: Iterable<Conn>, state: RelayState): void {
  const now = state.now();
  for (const c of conns) {
    if (c.role === 'client' && c.key && (c.key.revoked || !keyLive(c.key, now))) {
      c.link.close(new AuthError(c.key.revoked ? 'API key revoked' : 'API key expired', c.key.revoked ? {} : { detail: 'key_expired' }), CLOSE_POLICY);
    } else if (c.role === 'agent' && state.machine(c.machineId)?.disabled) {
      c.link.close(new PermissionError('this machine was disabled on the relay', { detail: 'machine_disabled' }), CLOSE_POLICY);
    }
  }
}
