/**
 * `schedules.*`: the relay as the system of record. Clients create, change, trigger and read
 * schedules and their runs; a schedule's target must be in the creating key's reach and its
 * action in that key's grants, checked at create, at every change and at every run (the push
 * recomputes each machine's set from the key's grants as they are then). Agents watch their set
 * and report their runs, each stored exactly once.
 */
import { cmdop } from '../../protocol/gen/cmdop.js';
import { NotFoundError, PermissionError, ValidationError } from '../../errors.js';
import { canSeeFleet, isGlobalAdmin, selects } from '../../control/access.js';
import { parseSelector } from '../../control/selector.js';
import { actionCapability, type ScheduleRecord, type ScheduleSpec } from '../../control/schedules/spec.js';
import { nextSlot } from '../../control/schedules/slots.js';
import { runFromWire, runToWire, scheduleToWire, specFromWire } from '../../control/schedules/wire.js';
import type { ServiceRegistry } from '../../link/services.js';
import type { KeyRecord, MachineRecord } from '../store/records.js';
import type { SchedulePush } from '../schedules/push.js';
import { callerKey, type RelayCtx } from './authz.js';
import { page } from './views.js';
import type { RelayApi } from './index.js';

const v1 = cmdop.v1;
const enc = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T) => type.encode(m).finish();
export const RUNS_PAGE_MAX = 1000;
/** Runs in one report, at most. */
export const REPORT_MAX = 1000;
const FIELDS = ['name', 'target', 'trigger', 'action', 'concurrency', 'jitter', 'missed', 'enabled'] as const;

export function registerSchedules(r: ServiceRegistry<RelayCtx>, api: RelayApi & { push: SchedulePush }): void {
  const { state, registry, audit, push } = api;
  const book = state.schedules;

  /** A schedule the caller may see and change: its own, or any with the admin grant on all machines. */
  const mine = (ctx: RelayCtx, ref: string): { s: ScheduleRecord; key: KeyRecord | null } => {
    const key = callerKey(ctx);
    const s = book.find(ref);
    if (key && s.keyId !== key.id && !isGlobalAdmin(key)) throw new NotFoundError(`no schedule ${ref}`, { detail: 'schedule_not_found' });
    return { s, key };
  };

  /** Resolves the target to ids and checks the key may run the action on every machine it reaches now. */
  const authorize = (key: KeyRecord | null, spec: ScheduleSpec): ScheduleSpec => {
    const cap = actionCapability(spec.action);
    const need = (m: MachineRecord) => {
      if (key && !state.capsOn(key, m).has(cap)) throw new PermissionError(`this key lacks the ${cap} grant on ${m.hostname}, where the schedule would run`, { detail: 'missing_grant' });
    };
    const t = spec.target;
    if (t.kind === 'machine') {
      const m = reachable(key, () => registry.find(t.id, key), `machine ${t.id}`);
      need(m);
      return { ...spec, target: { kind: 'machine', id: m.id } };
    }
    if (t.kind === 'fleet') {
      const f = reachable(key, () => {
        const f = state.fleets.find(t.id);
        if (key && !canSeeFleet(state.fleets, key, f.id)) throw new NotFoundError(`no fleet ${t.id}`, { detail: 'fleet_not_found' });
        return f;
      }, `fleet ${t.id}`);
      for (const m of state.fleets.machinesOf(f, registry.visible(key))) need(m);
      return { ...spec, target: { kind: 'fleet', id: f.id } };
    }
    parseSelector(t.selector);
    for (const m of registry.visible(key)) if (selects(t.selector, m.labels)) need(m);
    return spec;
  };

  /** A schedule's id for reading runs; a deleted one's runs stay readable, by id, with admin on all machines. */
  const runsOf = (ctx: RelayCtx, key: KeyRecord | null, ref: string): string => {
    try {
      return mine(ctx, ref).s.id;
    } catch (err) {
      if (err instanceof NotFoundError && (!key || isGlobalAdmin(key)) && /^[0-9a-f-]{36}$/.test(ref)) return ref;
      throw err;
    }
  };

  const view = (s: ScheduleRecord) => scheduleToWire(s, s.enabled ? (nextSlot(s.trigger, state.now()) ?? 0) : 0);
  const agentOnly = (ctx: RelayCtx) => {
    if (ctx.conn.role !== 'agent') throw new PermissionError('this call is for agents');
    return ctx.conn.machineId;
  };

  r.unary('schedules', 'list', v1.ListPageRequest, (req, ctx) => {
    const key = callerKey(ctx);
    const all = book.list().filter((s) => !key || isGlobalAdmin(key) || s.keyId === key.id);
    const p = page(all, (s) => s.name, req.limit, req.cursor);
    return enc(v1.ListSchedulesResponse, { schedules: p.items.map(view), nextCursor: p.next });
  })
    .unary('schedules', 'get', v1.ScheduleRef, (req, ctx) => enc(v1.Schedule, view(mine(ctx, req.schedule).s)))
    .unary('schedules', 'create', v1.Schedule, async (req, ctx) => {
      const key = callerKey(ctx);
      const spec = authorize(key, specFromWire(req));
      const s = await book.create(spec, key?.id ?? '');
      audit.emit('schedule.created', { key: key?.id, schedule: s.id, name: s.name, target: s.target, trigger: s.trigger, action: s.action.kind });
      return enc(v1.Schedule, view(s));
    })
    .unary('schedules', 'update', v1.UpdateScheduleRequest, async (req, ctx) => {
      const { s, key } = mine(ctx, req.schedule);
      for (const f of req.fields) if (!(FIELDS as readonly string[]).includes(f)) throw new ValidationError(`unknown schedule field ${JSON.stringify(f)}: use ${FIELDS.join(', ')}`);
      const w = req.spec ?? {};
      const has = (f: (typeof FIELDS)[number]) => req.fields.includes(f);
      const given = specFromWire({ ...scheduleToWire(s), ...definedWire(w, has) });
      // The grants that bound it are the creator's: an admin's change is checked against them too.
      const creator = s.keyId ? (state.key(s.keyId) ?? null) : null;
      const next = await book.update(s.id, authorize(key && s.keyId === key.id ? key : creator, given));
      audit.emit('schedule.updated', { key: key?.id, schedule: s.id, fields: req.fields });
      return enc(v1.Schedule, view(next));
    })
    .unary('schedules', 'delete', v1.ScheduleRef, async (req, ctx) => {
      const { s, key } = mine(ctx, req.schedule);
      await book.delete(s.id);
      audit.emit('schedule.deleted', { key: key?.id, schedule: s.id, name: s.name });
      return enc(v1.Empty, {});
    })
    .unary('schedules', 'trigger', v1.ScheduleRef, (req, ctx) => {
      const { s, key } = mine(ctx, req.schedule);
      if (!s.enabled) throw new ValidationError(`schedule ${s.name} is disabled: enable it first`);
      const out = push.trigger(s);
      audit.emit('schedule.triggered', { key: key?.id, schedule: s.id, sent: out.sent, offline: out.offline });
      return enc(v1.TriggerScheduleResponse, out);
    })
    .unary('schedules', 'runs', v1.ListRunsRequest, async (req, ctx) => {
      const limit = req.limit || 100;
      if (limit > RUNS_PAGE_MAX) throw new ValidationError(`limit must be at most ${RUNS_PAGE_MAX}`);
      const key = callerKey(ctx);
      const scheduleId = req.schedule ? runsOf(ctx, key, req.schedule) : undefined;
      if (!scheduleId && key && !isGlobalAdmin(key)) throw new PermissionError("reading every schedule's runs needs the admin grant on all machines: name a schedule", { detail: 'missing_grant' });
      const machineId = req.machine ? registry.find(req.machine, key).id : undefined;
      const p = await state.store.queryRuns({ scheduleId, machineId, after: Number(req.after) || undefined, limit });
      return enc(v1.ListRunsResponse, { runs: p.runs.map(runToWire), next: p.next });
    })
    .stream('schedules', 'watch', (stream, ctx) => push.watch(agentOnly(ctx), stream))
    .unary('schedules', 'head', v1.Empty, async (_req, ctx) => enc(v1.RunsHeadResponse, { seq: await state.store.runsHead(agentOnly(ctx)) }))
    .unary('schedules', 'report', v1.ReportRunsRequest, async (req, ctx) => {
      const id = agentOnly(ctx);
      if (req.runs.length > REPORT_MAX) throw new ValidationError(`a report carries at most ${REPORT_MAX} runs`);
      const runs = req.runs.map((x) => ({ ...runFromWire(x), machineId: id }));
      for (let i = 1; i < runs.length; i++) if (runs[i]!.seq <= runs[i - 1]!.seq) throw new ValidationError('runs in a report are in increasing seq order');
      return enc(v1.RunsHeadResponse, { seq: await state.store.appendRuns(id, runs) });
    });
}

/** The wire fields an update names, and only those. */
/**
 * A target outside the key's reach is refused as a permission, with the same words whether or
 * not it exists (so the answer reveals nothing); the admin socket still hears "not found".
 */
function reachable<T>(key: KeyRecord | null, find: () => T, what: string): T {
  try {
    return find();
  } catch (err) {
    if (key && err instanceof NotFoundError) throw new PermissionError(`this key cannot reach ${what} (or there is no such target)`, { detail: 'missing_grant' });
    throw err;
  }
}

function definedWire(w: cmdop.v1.ISchedule, has: (f: (typeof FIELDS)[number]) => boolean): cmdop.v1.ISchedule {
  return {
    ...(has('name') ? { name: w.name } : {}),
    ...(has('target') ? { target: w.target } : {}),
    ...(has('trigger') ? { trigger: w.trigger } : {}),
    ...(has('action') ? { action: w.action } : {}),
    ...(has('concurrency') ? { concurrency: w.concurrency } : {}),
    ...(has('jitter') ? { jitterMs: w.jitterMs } : {}),
    ...(has('missed') ? { missed: w.missed } : {}),
    ...(has('enabled') ? { enabled: w.enabled } : {}),
  };
}
