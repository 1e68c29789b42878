/** `cmdop schedules ...`: jobs the agents run on their own clocks, and their runs, each with --json. */
import { commandLine, parseDuration, printJson, table, UsageError, type Command, type Options } from '../args.js';
import type { Schedule, ScheduleOptions, ScheduleRun } from '../../client/schedules.js';
import { CONNECT, withClient, type Values } from './connect.js';

const J: Options = { ...CONNECT, json: { type: 'boolean' } };
const SPEC: Options = {
  machine: { type: 'string' },
  fleet: { type: 'string' },
  selector: { type: 'string' },
  cron: { type: 'string' },
  tz: { type: 'string' },
  every: { type: 'string' },
  at: { type: 'string' },
  'timeout-cmd': { type: 'string' },
  cwd: { type: 'string' },
  env: { type: 'string', multiple: true },
  'max-output': { type: 'string' },
  ask: { type: 'string' },
  'agent-type': { type: 'string' },
  approve: { type: 'string', multiple: true },
  jitter: { type: 'string' },
  concurrency: { type: 'string' },
  missed: { type: 'string' },
  disabled: { type: 'boolean' },
  enabled: { type: 'boolean' },
  name: { type: 'string' },
};

const when = (s: Schedule) => (s.trigger.cron ? `cron "${s.trigger.cron}" ${s.trigger.tz}` : s.trigger.everyMs ? `every ${s.trigger.everyMs / 1000}s` : `at ${new Date(s.trigger.atMs ?? 0).toISOString()}`);
const where = (s: Schedule) => (s.target.machine ? `machine ${s.target.machine}` : s.target.fleet ? `fleet ${s.target.fleet}` : `selector ${s.target.selector}`);
const row = (s: Schedule) => [s.name, s.id, s.enabled ? 'enabled' : 'disabled', where(s), when(s), s.nextRunAt ? s.nextRunAt.toISOString() : '-'];
const HEAD = ['NAME', 'ID', 'STATE', 'TARGET', 'TRIGGER', 'NEXT'];

function printSchedule(v: Values, s: Schedule): void {
  if (v.json) return printJson(s);
  process.stdout.write(table([HEAD, row(s)]));
}

/** The options a create or update names (only those: an update changes just them). */
function specFrom(v: Values, command: string[]): ScheduleOptions {
  const o: ScheduleOptions = {};
  const str = (k: string) => v[k] as string | undefined;
  if (str('name')) o.name = str('name');
  if (str('machine')) o.machine = str('machine');
  if (str('fleet')) o.fleet = str('fleet');
  if (str('selector')) o.selector = str('selector');
  if (str('cron')) o.cron = str('cron');
  if (str('tz')) o.tz = str('tz');
  if (str('every')) o.everyMs = parseDuration(str('every')!);
  if (str('at')) {
    const at = Date.parse(str('at')!);
    if (Number.isNaN(at)) throw new UsageError(`--at takes a date and time, e.g. 2027-01-01T03:00:00Z, not ${str('at')}`);
    o.at = at;
  }
  if (command.length) o.command = commandLine(command);
  if (str('ask')) o.ask = str('ask');
  if (o.command !== undefined || o.ask !== undefined) {
    if (str('timeout-cmd')) o.timeoutMs = parseDuration(str('timeout-cmd')!);
    if (str('cwd')) o.cwd = str('cwd');
    if (v.env) o.env = Object.fromEntries((v.env as string[]).map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new UsageError(`--env takes NAME=VALUE, not ${kv}`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }));
    if (str('max-output')) o.maxOutput = Number(str('max-output'));
    if (str('agent-type')) o.agentType = str('agent-type');
    if (v.approve) o.approve = v.approve as string[];
  }
  if (str('jitter')) o.jitterMs = parseDuration(str('jitter')!);
  if (str('concurrency')) o.concurrency = str('concurrency') as ScheduleOptions['concurrency'];
  if (str('missed')) o.missed = str('missed') as ScheduleOptions['missed'];
  if (v.disabled) o.enabled = false;
  if (v.enabled) o.enabled = true;
  return o;
}

const runRow = (r: ScheduleRun) => [r.machineId.slice(0, 8), String(r.seq), r.slotAt.toISOString(), r.status, r.status === 'ok' || r.status === 'failed' ? String(r.exitCode) : '-', `${r.lateMs}ms`, r.cause, r.reason || '-'];

function one(pos: string[], what: string): string {
  if (pos.length !== 1) throw new UsageError(`schedules ${what} takes one schedule name or id`);
  return pos[0]!;
}

export const schedulesCommands: Command[] = [
  {
    name: 'schedules list',
    summary: 'list the schedules this key made (every schedule, with admin on all machines)',
    usage: 'cmdop schedules list [--json]',
    options: J,
    run: (v) =>
      withClient(v, async (c) => {
        const all: Schedule[] = [];
        for await (const s of c.schedules.iter()) all.push(s);
        if (v.json) return printJson(all);
        process.stdout.write(table([HEAD, ...all.map(row)]));
      }),
  },
  {
    name: 'schedules get',
    summary: 'show one schedule',
    usage: 'cmdop schedules get NAME [--json]',
    options: J,
    run: (v, pos) => withClient(v, async (c) => printSchedule(v, await c.schedules.get(one(pos, 'get')))),
  },
  {
    name: 'schedules create',
    summary: 'create a schedule: a target, a trigger and a command (or --ask)',
    usage:
      'cmdop schedules create NAME (--machine M | --fleet F | --selector k=v) (--cron "30 2 * * *" [--tz Europe/Berlin] | --every 30s | --at ISO-TIME)\n' +
      '       [--timeout-cmd 10m] [--cwd DIR] [--env K=V]... [--jitter 10s] [--concurrency skip|queue] [--missed run_once|skip] [--disabled] [--json] -- COMMAND...\n' +
      '       ... --ask PROMPT [--agent-type command] [--approve "exact command"]...',
    options: { ...J, ...SPEC },
    run: (v, pos) =>
      withClient(v, async (c) => {
        const [name, ...command] = pos;
        if (!name) throw new UsageError('schedules create takes a name (see --help)');
        printSchedule(v, await c.schedules.create({ ...specFrom(v, command), name }));
      }),
  },
  {
    name: 'schedules update',
    summary: 'change a schedule (only the options given; a new command goes after --)',
    usage: 'cmdop schedules update NAME [--name NEW] [--cron ...|--every ...] [--enabled|--disabled] [--jitter 5s] ... [-- COMMAND...]',
    options: { ...J, ...SPEC },
    run: (v, pos) =>
      withClient(v, async (c) => {
        const [name, ...command] = pos;
        if (!name) throw new UsageError('schedules update takes a schedule name or id');
        const o = specFrom(v, command);
        if (Object.keys(o).length === 0) throw new UsageError('nothing to change (see schedules update --help)');
        printSchedule(v, await c.schedules.update(name, o));
      }),
  },
  {
    name: 'schedules delete',
    summary: 'delete a schedule (agents drop it at once, or when they reconnect)',
    usage: 'cmdop schedules delete NAME [--json]',
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        await c.schedules.delete(one(pos, 'delete'));
        if (v.json) printJson({ deleted: pos[0] });
      }),
  },
  {
    name: 'schedules trigger',
    summary: 'run a schedule now on every online target',
    usage: 'cmdop schedules trigger NAME [--json]',
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        const r = await c.schedules.trigger(one(pos, 'trigger'));
        if (v.json) return printJson(r);
        process.stdout.write(`sent to ${r.sent.length} machine(s)${r.offline.length ? `; offline: ${r.offline.join(', ')}` : ''}\n`);
      }),
  },
  {
    name: 'schedules runs',
    summary: "a schedule's runs per machine: slot, status, exit code, lateness, and why a slot was skipped or missed",
    usage: 'cmdop schedules runs NAME [--machine M] [--limit N] [--output] [--json]',
    options: { ...J, machine: { type: 'string' }, limit: { type: 'string' }, output: { type: 'boolean' } },
    run: (v, pos) =>
      withClient(v, async (c) => {
        const limit = v.limit ? Number(v.limit) : Infinity;
        const runs: ScheduleRun[] = [];
        for await (const r of c.schedules.iterRuns(one(pos, 'runs'), { machine: v.machine as string | undefined })) {
          runs.push(r);
          if (runs.length > limit) runs.shift(); // the newest `limit`
        }
        if (v.json) return printJson(runs);
        process.stdout.write(table([['MACHINE', 'SEQ', 'SLOT', 'STATUS', 'EXIT', 'LATE', 'CAUSE', 'REASON'], ...runs.map(runRow)]));
        for (const r of v.output ? runs : []) {
          const cut = r.outputBytes > Buffer.byteLength(r.outputHead) + Buffer.byteLength(r.outputTail);
          process.stdout.write(`\n--- ${r.machineId} #${r.seq} (${r.outputBytes} bytes)\n${r.outputHead}${cut ? '\n[...]\n' : ''}${r.outputTail}\n`);
        }
      }),
  },
];
