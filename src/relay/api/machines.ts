/** `machines.*`: the registry, as far as the caller's key reaches. */
import { cmdop } from '../../protocol/gen/cmdop.js';
import { PermissionError } from '../../errors.js';
import type { ServiceRegistry } from '../../link/services.js';
import { callerKey, type RelayCtx } from './authz.js';
import type { RelayApi } from './index.js';

const v1 = cmdop.v1;
const enc = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T) => type.encode(m).finish();

export function registerMachines(r: ServiceRegistry<RelayCtx>, api: RelayApi): void {
  const { registry, state, audit } = api;
  /** Changing a machine needs admin on it. */
  const adminOn = (ctx: RelayCtx, target: string) => {
    const key = callerKey(ctx);
    const m = registry.find(target, key);
    if (key && !state.capsOn(key, m).has('admin')) throw new PermissionError(`changing ${m.hostname} needs the admin grant on it`, { detail: 'missing_grant' });
    return { key, m };
  };
  r.unary('machines', 'list', v1.ListMachinesRequest, (req, ctx) => enc(v1.ListMachinesResponse, registry.list(req, callerKey(ctx))))
    .unary('machines', 'get', v1.GetMachineRequest, (req, ctx) => enc(v1.Machine, registry.view(registry.find(req.machine, callerKey(ctx)), callerKey(ctx))))
    .unary('machines', 'update', v1.UpdateMachineRequest, async (req, ctx) => {
      const { key, m } = adminOn(ctx, req.machine);
      const next = await state.updateMachine(m.id, { name: req.name || undefined, labels: req.setLabels ? req.labels : undefined });
      audit.emit('machine.updated', { key: key?.id, machine: m.id, name: next.name, labels: next.labels });
      return enc(v1.Machine, registry.view(next));
    })
    .unary('machines', 'disable', v1.SetDisabledRequest, async (req, ctx) => {
      const { key, m } = adminOn(ctx, req.machine);
      const next = await state.setDisabled(m.id, req.disabled);
      if (req.disabled) api.closeMachineLink(m.id);
      audit.emit(req.disabled ? 'machine.disabled' : 'machine.enabled', { key: key?.id, machine: m.id });
      return enc(v1.Machine, registry.view(next));
    });
}
