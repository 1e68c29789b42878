/**
 * `fleets.*`: fleets, their machines and members. Creating a fleet needs admin on every machine;
 * changing one needs admin on it (a grant or the admin role); attaching a machine also needs
 * admin on that machine, so a fleet admin cannot pull in a machine outside their reach. A fleet
 * outside the caller's grants is "not found".
 */
import { cmdop } from '../../protocol/gen/cmdop.js';
import { NotFoundError, PermissionError } from '../../errors.js';
import { canSeeFleet, isGlobalAdmin } from '../../control/access.js';
import { parseRole } from '../../control/capabilities.js';
import type { ServiceRegistry } from '../../link/services.js';
import type { FleetRecord } from '../store/records.js';
import { callerKey, requireFleetAdmin, requireGlobalAdmin, type RelayCtx } from './authz.js';
import { fleetView, memberView, page } from './views.js';
import type { RelayApi } from './index.js';

const v1 = cmdop.v1;
const enc = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T) => type.encode(m).finish();

export function registerFleets(r: ServiceRegistry<RelayCtx>, api: RelayApi): void {
  const { state, registry, audit } = api;
  const book = state.fleets;
  const visibleFleet = (ctx: RelayCtx, ref: string): FleetRecord => {
    const key = callerKey(ctx);
    const f = book.find(ref);
    if (key && !canSeeFleet(book, key, f.id)) throw new NotFoundError(`no fleet ${ref}`, { detail: 'fleet_not_found' });
    return f;
  };
  const view = (f: FleetRecord) => fleetView(f, book.machinesOf(f, state.machines()).length);
  const adminFleet = (ctx: RelayCtx, ref: string, what: string) => {
    const f = visibleFleet(ctx, ref);
    return { f, key: requireFleetAdmin(ctx, state, f.id, what) };
  };

  r.unary('fleets', 'list', v1.ListPageRequest, (req, ctx) => {
    const key = callerKey(ctx);
    const fleets = book.list().filter((f) => !key || canSeeFleet(book, key, f.id));
    const p = page(fleets, (f) => f.name, req.limit, req.cursor);
    return enc(v1.ListFleetsResponse, { fleets: p.items.map(view), nextCursor: p.next });
  })
    .unary('fleets', 'get', v1.FleetRef, (req, ctx) => enc(v1.Fleet, view(visibleFleet(ctx, req.fleet))))
    .unary('fleets', 'create', v1.CreateFleetRequest, async (req, ctx) => {
      const key = requireGlobalAdmin(ctx, 'creating a fleet');
      const f = await book.create(req.name, { description: req.description, selector: req.selector });
      audit.emit('fleet.created', { key: key?.id, fleet: f.id, name: f.name, selector: f.selector });
      return enc(v1.Fleet, view(f));
    })
    .unary('fleets', 'update', v1.UpdateFleetRequest, async (req, ctx) => {
      const { f, key } = adminFleet(ctx, req.fleet, 'changing a fleet');
      const next = await book.update(f.id, { name: req.name || undefined, description: req.setDescription ? req.description : undefined, selector: req.setSelector ? req.selector : undefined });
      audit.emit('fleet.updated', { key: key?.id, fleet: f.id, name: next.name, selector: next.selector });
      return enc(v1.Fleet, view(next));
    })
    .unary('fleets', 'disable', v1.SetFleetDisabledRequest, async (req, ctx) => {
      const { f, key } = adminFleet(ctx, req.fleet, 'disabling a fleet');
      const next = await book.setDisabled(f.id, req.disabled);
      audit.emit(req.disabled ? 'fleet.disabled' : 'fleet.enabled', { key: key?.id, fleet: f.id });
      return enc(v1.Fleet, view(next));
    })
    .unary('fleets', 'machines.list', v1.FleetMachinesRequest, (req, ctx) => {
      const f = visibleFleet(ctx, req.fleet);
      const key = callerKey(ctx);
      const among = book.machinesOf(f, registry.visible(key));
      return enc(v1.ListMachinesResponse, registry.list({ presence: req.presence, limit: req.limit, cursor: req.cursor }, key, among));
    })
    .unary('fleets', 'machines.attach', v1.FleetMachineRequest, async (req, ctx) => {
      const { f, key } = adminFleet(ctx, req.fleet, 'attaching a machine');
      const m = registry.find(req.machine, key);
      if (key && !isGlobalAdmin(key) && !state.capsOn(key, m).has('admin')) throw new PermissionError(`attaching ${m.hostname} needs the admin grant on it`, { detail: 'missing_grant' });
      await book.attach(f.id, m.id);
      audit.emit('fleet.machine.attached', { key: key?.id, fleet: f.id, machine: m.id });
      return enc(v1.Machine, registry.view(m));
    })
    .unary('fleets', 'machines.detach', v1.FleetMachineRequest, async (req, ctx) => {
      const { f, key } = adminFleet(ctx, req.fleet, 'detaching a machine');
      const m = registry.find(req.machine, null);
      if (!(await book.detach(f.id, m.id))) throw new NotFoundError(`${m.hostname} is not attached to fleet ${f.name}`);
      audit.emit('fleet.machine.detached', { key: key?.id, fleet: f.id, machine: m.id });
      return enc(v1.Machine, registry.view(m));
    })
    .unary('fleets', 'members.list', v1.ListMembersRequest, (req, ctx) => {
      const { f } = adminFleet(ctx, req.fleet, 'listing members');
      const p = page(book.members(f.id), (m) => m.keyId, req.limit, req.cursor);
      return enc(v1.ListMembersResponse, { members: p.items.map((m) => memberView(m, state.key(m.keyId)?.name ?? '')), nextCursor: p.next });
    })
    .unary('fleets', 'members.add', v1.MemberRequest, (req, ctx) => setMember(req, ctx, 'fleet.member.added'))
    .unary('fleets', 'members.set_role', v1.MemberRequest, (req, ctx) => setMember(req, ctx, 'fleet.member.role'))
    .unary('fleets', 'members.remove', v1.MemberRequest, async (req, ctx) => {
      const { f, key } = adminFleet(ctx, req.fleet, 'removing a member');
      if (!(await book.removeMember(f.id, req.keyId))) throw new NotFoundError(`key ${req.keyId} is not a member of fleet ${f.name}`);
      audit.emit('fleet.member.removed', { key: key?.id, fleet: f.id, subject: req.keyId });
      return enc(v1.Empty, {});
    });

  async function setMember(req: cmdop.v1.MemberRequest, ctx: RelayCtx, type: string): Promise<Uint8Array> {
    const { f, key } = adminFleet(ctx, req.fleet, 'changing members');
    const role = parseRole(req.role || 'viewer');
    const subject = state.key(req.keyId);
    if (!subject) throw new NotFoundError(`no API key with id ${req.keyId}`);
    if (type === 'fleet.member.role' && !book.memberships(subject.id).some((m) => m.fleetId === f.id)) throw new NotFoundError(`key ${req.keyId} is not a member of fleet ${f.name}`);
    const m = await book.setMember(f.id, subject.id, role);
    audit.emit(type, { key: key?.id, fleet: f.id, subject: subject.id, role });
    return enc(v1.Member, memberView(m, subject.name));
  }
}
