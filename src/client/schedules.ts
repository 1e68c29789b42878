/**
 * `client.schedules`: jobs the agents run on their own clocks, with the relay as the system of
 * record (list · get · create · update · delete · trigger · runs, as in the CMDOP SDK).
 * @example
 * await client.schedules.create({ name: 'backup', machine: 'web-1', cron: '30 2 * * *', tz: 'Europe/Berlin', command: '/usr/local/bin/backup.sh' });
 * await client.schedules.create({ name: 'beat', fleet: 'edge', everyMs: 30_000, jitterMs: 5000, command: 'uptime' });
 * for await (const r of client.schedules.iterRuns('backup')) console.log(r.machineId, r.status, r.exitCode);
 */
import { createHash } from 'node:crypto';
import { cmdop } from '../protocol/gen/cmdop.js';
import type { Caller } from './caller.js';
import type { Page } from './machines.js';
import { paging } from './paging.js';

const v1 = cmdop.v1;

export interface Schedule {
  id: string;
  name: string;
  target: { machine?: string; fleet?: string; selector?: string };
  trigger: { cron?: string; tz?: string; everyMs?: number; atMs?: number };
  action: { command?: string; cwd?: string; env?: Record<string, string>; timeoutMs: number; maxOutput?: number; prompt?: string; agentType?: string; approved?: string[] };
  concurrency: 'skip' | 'queue';
  jitterMs: number;
  missed: 'run_once' | 'skip';
  enabled: boolean;
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
  /** The next slot, as the relay computes it (null: none, or disabled). */
  nextRunAt: Date | null;
}

export interface ScheduleRun {
  scheduleId: string;
  machineId: string;
  seq: number;
  slotAt: Date;
  startedAt: Date;
  endedAt: Date;
  status: 'ok' | 'failed' | 'timeout' | 'skipped' | 'missed' | 'error';
  exitCode: number;
  outputHead: string;
  outputTail: string;
  outputBytes: number;
  reason: string;
  cause: 'clock' | 'manual' | 'catchup';
  lateMs: number;
  missedCount: number;
  /** Cursor: pass as `after` to read the runs after this one. */
  pos: number;
}

export interface ScheduleOptions {
  name?: string;
  /** Exactly one target. */
  machine?: string;
  fleet?: string;
  selector?: string;
  /** Exactly one trigger: a 5-field cron expression (in `tz`, default UTC), an interval, or a time. */
  cron?: string;
  tz?: string;
  everyMs?: number;
  at?: Date | number;
  /** Exactly one action: a shell command line, or an AI ask. */
  command?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  maxOutput?: number;
  ask?: string;
  agentType?: string;
  /** Commands a person confirms now, by their exact text (sent as sha256): the ask may run them unattended. */
  approve?: string[];
  concurrency?: 'skip' | 'queue';
  jitterMs?: number;
  missed?: 'run_once' | 'skip';
  enabled?: boolean;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const date = (ms: number | undefined | null) => new Date(Number(ms ?? 0));

export const toSchedule = (s: cmdop.v1.ISchedule): Schedule => ({
  id: s.id ?? '',
  name: s.name ?? '',
  target: { ...(s.target?.machine ? { machine: s.target.machine } : {}), ...(s.target?.fleet ? { fleet: s.target.fleet } : {}), ...(s.target?.selector ? { selector: s.target.selector } : {}) },
  trigger: s.trigger?.cron ? { cron: s.trigger.cron, tz: s.trigger.tz ?? 'UTC' } : Number(s.trigger?.everyMs) ? { everyMs: Number(s.trigger!.everyMs) } : { atMs: Number(s.trigger?.atMs ?? 0) },
  action: s.action?.command
    ? { command: s.action.command, cwd: s.action.cwd ?? '', env: { ...(s.action.env ?? {}) }, timeoutMs: Number(s.action.timeoutMs), maxOutput: s.action.maxOutput ?? 0 }
    : { prompt: s.action?.prompt ?? '', agentType: s.action?.agentType ?? '', timeoutMs: Number(s.action?.timeoutMs ?? 0), approved: [...(s.action?.approved ?? [])] },
  concurrency: (s.concurrency || 'skip') as Schedule['concurrency'],
  jitterMs: Number(s.jitterMs ?? 0),
  missed: (s.missed || 'run_once') as Schedule['missed'],
  enabled: !!s.enabled,
  keyId: s.keyId ?? '',
  createdAt: date(s.createdMs),
  updatedAt: date(s.updatedMs),
  nextRunAt: Number(s.nextRunMs) ? date(s.nextRunMs) : null,
});

export const toRun = (r: cmdop.v1.IScheduleRun): ScheduleRun => ({
  scheduleId: r.scheduleId ?? '',
  machineId: r.machineId ?? '',
  seq: Number(r.seq ?? 0),
  slotAt: date(r.slotMs),
  startedAt: date(r.startMs),
  endedAt: date(r.endMs),
  status: (r.status || 'error') as ScheduleRun['status'],
  exitCode: r.exitCode ?? 0,
  outputHead: r.outputHead ?? '',
  outputTail: r.outputTail ?? '',
  outputBytes: Number(r.outputBytes ?? 0),
  reason: r.reason ?? '',
  cause: (r.cause || 'clock') as ScheduleRun['cause'],
  lateMs: Number(r.lateMs ?? 0),
  missedCount: r.missedCount ?? 0,
  pos: Number(r.pos ?? 0),
});

/** The wire form of the options given, and the names of the fields they set (for update). */
function toWire(o: ScheduleOptions): { spec: cmdop.v1.ISchedule; fields: string[] } {
  const fields: string[] = [];
  const spec: cmdop.v1.ISchedule = {};
  if (o.name !== undefined) (spec.name = o.name), fields.push('name');
  if (o.machine !== undefined || o.fleet !== undefined || o.selector !== undefined) {
    spec.target = { machine: o.machine ?? '', fleet: o.fleet ?? '', selector: o.selector ?? '' };
    fields.push('target');
  }
  if (o.cron !== undefined || o.everyMs !== undefined || o.at !== undefined) {
    spec.trigger = { cron: o.cron ?? '', tz: o.tz ?? '', everyMs: o.everyMs ?? 0, atMs: o.at === undefined ? 0 : Number(o.at instanceof Date ? o.at.getTime() : o.at) };
    fields.push('trigger');
  }
  if (o.command !== undefined || o.ask !== undefined) {
    spec.action = { command: o.command ?? '', cwd: o.cwd ?? '', env: o.env ?? {}, timeoutMs: o.timeoutMs ?? 0, maxOutput: o.maxOutput ?? 8192, prompt: o.ask ?? '', agentType: o.agentType ?? '', approved: (o.approve ?? []).map(sha256) };
    fields.push('action');
  }
  if (o.concurrency !== undefined) (spec.concurrency = o.concurrency), fields.push('concurrency');
  if (o.jitterMs !== undefined) (spec.jitterMs = o.jitterMs), fields.push('jitter');
  if (o.missed !== undefined) (spec.missed = o.missed), fields.push('missed');
  if (o.enabled !== undefined) (spec.enabled = o.enabled), fields.push('enabled');
  return { spec, fields };
}

export class Schedules {
  constructor(private readonly caller: Caller) {}

  private async call(method: string, req: Uint8Array): Promise<Uint8Array> {
    return this.caller.unary('', 'schedules', method, req);
  }

  async list(o: { limit?: number; cursor?: string } = {}): Promise<Page<Schedule>> {
    const r = v1.ListSchedulesResponse.decode(await this.call('list', v1.ListPageRequest.encode({ limit: o.limit ?? 0, cursor: o.cursor ?? '' }).finish()));
    return { items: r.schedules.map(toSchedule), nextCursor: r.nextCursor || null };
  }

  iter(o: { limit?: number } = {}): AsyncGenerator<Schedule> {
    return paging((x: { limit?: number; cursor?: string }) => this.list(x)).iter(o);
  }

  pages(o: { limit?: number } = {}): AsyncGenerator<Schedule[]> {
    return paging((x: { limit?: number; cursor?: string }) => this.list(x)).pages(o);
  }

  /** By id or name. */
  async get(schedule: string): Promise<Schedule> {
    return toSchedule(v1.Schedule.decode(await this.call('get', v1.ScheduleRef.encode({ schedule }).finish())));
  }

  async create(o: ScheduleOptions & { name: string }): Promise<Schedule> {
    const { spec } = toWire({ enabled: true, ...o });
    return toSchedule(v1.Schedule.decode(await this.call('create', v1.Schedule.encode(spec).finish())));
  }

  /** Changes the fields given (a new target, trigger or action replaces the old one whole). */
  async update(schedule: string, o: ScheduleOptions): Promise<Schedule> {
    const { spec, fields } = toWire(o);
    return toSchedule(v1.Schedule.decode(await this.call('update', v1.UpdateScheduleRequest.encode({ schedule, spec, fields }).finish())));
  }

  async delete(schedule: string): Promise<void> {
    await this.call('delete', v1.ScheduleRef.encode({ schedule }).finish());
  }

  /** Runs it now on every online target; says which machines got it and which are offline. */
  async trigger(schedule: string): Promise<{ sent: string[]; offline: string[] }> {
    const r = v1.TriggerScheduleResponse.decode(await this.call('trigger', v1.ScheduleRef.encode({ schedule }).finish()));
    return { sent: r.sent, offline: r.offline };
  }

  /** A page of runs, oldest first; `after` is the last run's `pos`. */
  async runs(schedule: string, o: { machine?: string; after?: number; limit?: number } = {}): Promise<{ items: ScheduleRun[]; next: number }> {
    const r = v1.ListRunsResponse.decode(await this.call('runs', v1.ListRunsRequest.encode({ schedule, machine: o.machine ?? '', after: o.after ?? 0, limit: o.limit ?? 0 }).finish()));
    return { items: r.runs.map(toRun), next: Number(r.next) };
  }

  async *pagesRuns(schedule: string, o: { machine?: string; limit?: number } = {}): AsyncGenerator<ScheduleRun[]> {
    for (let after = 0; ; ) {
      const p = await this.runs(schedule, { ...o, after });
      if (p.items.length === 0) return;
      yield p.items;
      after = p.next;
    }
  }

  async *iterRuns(schedule: string, o: { machine?: string; limit?: number } = {}): AsyncGenerator<ScheduleRun> {
    for await (const page of this.pagesRuns(schedule, o)) yield* page;
  }
}
