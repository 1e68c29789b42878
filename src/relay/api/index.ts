/**
 * Streams the relay answers itself (Open.target = ""): machines, keys and tokens, fleets and the
 * audit log, one file per service.
 */
import { ServiceRegistry } from '../../link/services.js';
import type { Registry } from '../registry.js';
import type { RelayState } from '../state.js';
import type { AuditLog } from '../audit/log.js';
import type { AuditIdentity } from '../audit/identity.js';
import type { RelayCtx } from './authz.js';
import { registerMachines } from './machines.js';
import { registerKeys } from './keys.js';
import { registerFleets } from './fleets.js';
import { registerAudit } from './audit.js';
import { registerSchedules } from './schedules.js';
import type { SchedulePush } from '../schedules/push.js';

export type { RelayCtx } from './authz.js';
export { keyView, tokenView } from './views.js';

export interface RelayApi {
  registry: Registry;
  state: RelayState;
  audit: AuditLog;
  auditIdentity: AuditIdentity;
  /** Closes the live links that authenticated with this key; returns how many. */
  closeKeyLinks(keyId: string): number;
  /** Closes a machine's live agent link (it was disabled). */
  closeMachineLink(machineId: string): void;
  /** Each online agent's schedule set, and "run now". */
  push: SchedulePush;
}

export function relayServices(api: RelayApi): ServiceRegistry<RelayCtx> {
  const r = new ServiceRegistry<RelayCtx>();
  registerMachines(r, api);
  registerKeys(r, api);
  registerFleets(r, api);
  registerAudit(r, api);
  registerSchedules(r, api);
  return r;
}
