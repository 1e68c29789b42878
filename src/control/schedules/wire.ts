/** Schedules and runs to and from the wire (pure): one mapping, used by the relay, the agent and the SDK's views. */
import type { cmdop } from '../../protocol/gen/cmdop.js';
import { ValidationError } from '../../errors.js';
import { DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT_MS, type ScheduleAction, type ScheduleRecord, type ScheduleSpec, type ScheduleTarget, type ScheduleTrigger } from './spec.js';
import type { RunCause, RunRecord, RunStatus } from '../../relay/store/records.js';

export function targetFromWire(t: cmdop.v1.IScheduleTarget | null | undefined): ScheduleTarget {
  const given = [t?.machine, t?.fleet, t?.selector].filter(Boolean).length;
  if (given !== 1) throw new ValidationError('a schedule targets exactly one of: a machine, a fleet, a label selector');
  if (t!.machine) return { kind: 'machine', id: t!.machine };
  if (t!.fleet) return { kind: 'fleet', id: t!.fleet };
  return { kind: 'selector', selector: t!.selector! };
}

export function triggerFromWire(t: cmdop.v1.IScheduleTrigger | null | undefined): ScheduleTrigger {
  const given = [t?.cron, Number(t?.everyMs ?? 0) > 0, Number(t?.atMs ?? 0) > 0].filter(Boolean).length;
  if (given !== 1) throw new ValidationError('a schedule has exactly one trigger: a cron expression, an interval, or a time');
  if (t!.cron) return { kind: 'cron', expr: t!.cron, tz: t!.tz || 'UTC' };
  if (Number(t!.everyMs) > 0) return { kind: 'every', ms: Number(t!.everyMs), anchorMs: Number(t!.anchorMs ?? 0) };
  return { kind: 'once', atMs: Number(t!.atMs) };
}

export function actionFromWire(a: cmdop.v1.IScheduleAction | null | undefined): ScheduleAction {
  if (!!a?.command === !!a?.prompt) throw new ValidationError('a schedule runs either a command or an AI ask');
  const timeoutMs = Number(a!.timeoutMs ?? 0) || DEFAULT_TIMEOUT_MS;
  if (a!.command) return { kind: 'exec', command: a!.command, cwd: a!.cwd ?? '', env: { ...(a!.env ?? {}) }, timeoutMs, maxOutput: a!.maxOutput ?? DEFAULT_MAX_OUTPUT };
  return { kind: 'ask', prompt: a!.prompt!, agentType: a!.agentType || 'command', timeoutMs, approved: [...(a!.approved ?? [])] };
}

/** A spec from the wire, with defaults (skip, no jitter, run missed once, enabled). */
export function specFromWire(s: cmdop.v1.ISchedule): ScheduleSpec {
  return {
    name: s.name ?? '',
    target: targetFromWire(s.target),
    trigger: triggerFromWire(s.trigger),
    action: actionFromWire(s.action),
    concurrency: (s.concurrency || 'skip') as ScheduleSpec['concurrency'],
    jitterMs: Number(s.jitterMs ?? 0),
    missed: (s.missed || 'run_once') as ScheduleSpec['missed'],
    enabled: s.enabled ?? true,
  };
}

export function scheduleToWire(s: ScheduleRecord, nextRunMs = 0): cmdop.v1.ISchedule {
  const t = s.target;
  const g = s.trigger;
  const a = s.action;
  return {
    id: s.id,
    name: s.name,
    target: t.kind === 'machine' ? { machine: t.id } : t.kind === 'fleet' ? { fleet: t.id } : { selector: t.selector },
    trigger: g.kind === 'cron' ? { cron: g.expr, tz: g.tz } : g.kind === 'every' ? { everyMs: g.ms, anchorMs: g.anchorMs } : { atMs: g.atMs },
    action: a.kind === 'exec' ? { command: a.command, cwd: a.cwd, env: a.env, timeoutMs: a.timeoutMs, maxOutput: a.maxOutput } : { prompt: a.prompt, agentType: a.agentType, timeoutMs: a.timeoutMs, approved: a.approved },
    concurrency: s.concurrency,
    jitterMs: s.jitterMs,
    missed: s.missed,
    enabled: s.enabled,
    keyId: s.keyId,
    createdMs: s.createdMs,
    updatedMs: s.updatedMs,
    nextRunMs,
  };
}

export function scheduleFromWire(s: cmdop.v1.ISchedule): ScheduleRecord {
  return { ...specFromWire(s), id: s.id ?? '', keyId: s.keyId ?? '', createdMs: Number(s.createdMs ?? 0), updatedMs: Number(s.updatedMs ?? 0) };
}

export const runToWire = (r: RunRecord & { pos?: number }): cmdop.v1.IScheduleRun => ({ ...r, pos: r.pos ?? 0 });

export function runFromWire(r: cmdop.v1.IScheduleRun): RunRecord {
  return {
    scheduleId: r.scheduleId ?? '',
    machineId: r.machineId ?? '',
    seq: Number(r.seq ?? 0),
    slotMs: Number(r.slotMs ?? 0),
    startMs: Number(r.startMs ?? 0),
    endMs: Number(r.endMs ?? 0),
    status: (r.status || 'error') as RunStatus,
    exitCode: r.exitCode ?? 0,
    outputHead: r.outputHead ?? '',
    outputTail: r.outputTail ?? '',
    outputBytes: Number(r.outputBytes ?? 0),
    reason: r.reason ?? '',
    cause: (r.cause || 'clock') as RunCause,
    lateMs: Number(r.lateMs ?? 0),
    missedCount: r.missedCount ?? 0,
  };
}
