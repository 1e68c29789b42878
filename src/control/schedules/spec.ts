/**
 * A schedule, as the relay stores it and the agent runs it (pure): what runs, where, when, and
 * under which policies. `checkSpec` is the one validation both ends apply, so a schedule the relay
 * accepted is one every agent can run; cron syntax and time zones are checked by croner and Intl,
 * never by a parser of our own.
 */
import { Cron } from 'croner';
import { ValidationError } from '../../errors.js';

/** Where a schedule runs: one machine, a fleet's machines, or machines matching labels, as they are at each run. */
export type ScheduleTarget = { kind: 'machine'; id: string } | { kind: 'fleet'; id: string } | { kind: 'selector'; selector: string };

/** When: a 5-field cron expression in a time zone, a fixed interval from an anchor, or once. */
export type ScheduleTrigger = { kind: 'cron'; expr: string; tz: string } | { kind: 'every'; ms: number; anchorMs: number } | { kind: 'once'; atMs: number };

export interface ExecAction {
  kind: 'exec';
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** Bytes of output kept in the run record: half from the start, half from the end. */
  maxOutput: number;
}

export interface AskAction {
  kind: 'ask';
  prompt: string;
  agentType: string;
  timeoutMs: number;
  /** sha256 (hex) of the exact commands a person confirmed when creating the schedule. */
  approved: string[];
}

export type ScheduleAction = ExecAction | AskAction;

export interface ScheduleSpec {
  name: string;
  target: ScheduleTarget;
  trigger: ScheduleTrigger;
  action: ScheduleAction;
  /** While the last run is still going: skip this slot, or queue one run for after it. */
  concurrency: 'skip' | 'queue';
  /** Each machine starts a slot's run up to this much later (deterministic per machine and slot). */
  jitterMs: number;
  /** Slots that passed while the agent itself was down: run once at start, or record them missed. */
  missed: 'run_once' | 'skip';
  enabled: boolean;
}

export interface ScheduleRecord extends ScheduleSpec {
  id: string;
  /** The key that created it: its grants bound what the schedule may do, now and at every run. */
  keyId: string;
  createdMs: number;
  updatedMs: number;
}

export const MIN_INTERVAL_MS = 1000;
export const MAX_INTERVAL_MS = 366 * 24 * 3600_000;
export const MAX_JITTER_MS = 24 * 3600_000;
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
export const MAX_TIMEOUT_MS = 24 * 3600_000;
export const DEFAULT_MAX_OUTPUT = 8 * 1024;
export const MAX_OUTPUT = 64 * 1024;
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** A cron trigger as croner reads it; throws ValidationError for a bad expression or zone. */
export function cronOf(expr: string, tz: string): Cron {
  const fields = expr.trim().split(/\s+/);
  if (!(fields.length === 5 || (fields.length === 1 && NICKNAMES.has(fields[0]!)))) {
    throw new ValidationError(`a cron expression has 5 fields (minute hour day month weekday), not ${JSON.stringify(expr)}`, { detail: 'bad_cron' });
  }
  checkZone(tz);
  try {
    return new Cron(expr, { timezone: tz, mode: '5-part' });
  } catch (err) {
    throw new ValidationError(`invalid cron expression ${JSON.stringify(expr)}: ${(err as Error).message.replace(/^CronPattern: /, '')}`, { detail: 'bad_cron' });
  }
}

export function checkZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new ValidationError(`unknown time zone ${JSON.stringify(tz)}: use an IANA name such as Europe/Berlin or UTC`, { detail: 'bad_time_zone' });
  }
}

function between(v: number, lo: number, hi: number, what: string): void {
  if (!Number.isFinite(v) || v < lo || v > hi) throw new ValidationError(`${what} must be between ${lo} and ${hi}`);
}

/** Checks a whole spec; every error names the field. */
export function checkSpec(s: ScheduleSpec): void {
  if (!NAME.test(s.name)) throw new ValidationError('a schedule name is 1-63 lowercase letters, digits and . _ -, starting with a letter or digit');
  const t = s.target;
  if (t.kind === 'selector' ? !t.selector.trim() : !t.id) throw new ValidationError('a schedule needs a target: a machine, a fleet or a label selector');
  const g = s.trigger;
  if (g.kind === 'cron') cronOf(g.expr, g.tz);
  else if (g.kind === 'every') between(g.ms, MIN_INTERVAL_MS, MAX_INTERVAL_MS, 'an interval (ms)');
  else if (!(g.atMs > 0)) throw new ValidationError('a once trigger needs a time');
  const a = s.action;
  between(a.timeoutMs, 1, MAX_TIMEOUT_MS, 'a timeout (ms)');
  if (a.kind === 'exec') {
    if (!a.command.trim()) throw new ValidationError('an exec action needs a command');
    between(a.maxOutput, 0, MAX_OUTPUT, 'max output (bytes)');
  } else {
    if (!a.prompt.trim()) throw new ValidationError('an ask action needs a prompt');
    if (!['chat', 'command', 'terminal', 'planner', 'router'].includes(a.agentType)) throw new ValidationError('agent type is one of chat, command, terminal, planner, router');
    for (const h of a.approved) if (!/^[0-9a-f]{64}$/.test(h)) throw new ValidationError('approved commands are given by their sha256 (64 hex digits)');
  }
  if (s.concurrency !== 'skip' && s.concurrency !== 'queue') throw new ValidationError('concurrency is skip or queue');
  if (s.missed !== 'run_once' && s.missed !== 'skip') throw new ValidationError('missed is run_once or skip');
  between(s.jitterMs, 0, MAX_JITTER_MS, 'jitter (ms)');
}

/** The capability a schedule's action needs on each machine it runs on. */
export function actionCapability(a: ScheduleAction): 'exec' | 'ai' {
  return a.kind === 'exec' ? 'exec' : 'ai';
}
