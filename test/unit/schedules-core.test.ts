/**
 * The schedule core: validation, slots (cron in a time zone across DST, intervals), jitter, the
 * output head/tail, and the agent's scheduler on a fake clock over real files in a temp dir.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { specFromWire } from '../../src/control/schedules/wire.js';
import { ValidationError } from '../../src/errors.js';
import { checkSpec, type ScheduleRecord, type ScheduleSpec } from '../../src/control/schedules/spec.js';
import { jitterFor, nextSlot, slotsBetween } from '../../src/control/schedules/slots.js';
import { HeadTail, type Outcome } from '../../src/agent/schedules/runner.js';
import { Scheduler, SYNC_HOLD_MS } from '../../src/agent/schedules/scheduler.js';
import { ScheduleFiles, type HeldSchedule } from '../../src/agent/schedules/files.js';
import { RunJournal } from '../../src/agent/schedules/journal.js';
import { silentLogger } from '../../src/log.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { tempDir } from '../helpers/tmp.js';

const spec = (o: Partial<ScheduleSpec> = {}): ScheduleSpec => ({
  name: 'job',
  target: { kind: 'machine', id: 'm1' },
  trigger: { kind: 'every', ms: 1000, anchorMs: 0 },
  action: { kind: 'exec', command: 'true', cwd: '', env: {}, timeoutMs: 1000, maxOutput: 100 },
  concurrency: 'skip',
  jitterMs: 0,
  missed: 'run_once',
  enabled: true,
  ...o,
});
const T = (iso: string) => Date.parse(iso);

describe('schedule specs', () => {
  it('refuses a bad cron expression, a 6-field one, an unknown zone and a tiny interval, naming each', () => {
    expect(() => checkSpec(spec({ trigger: { kind: 'cron', expr: '61 * * * *', tz: 'UTC' } }))).toThrow(/invalid cron expression.*minute/);
    expect(() => checkSpec(spec({ trigger: { kind: 'cron', expr: '0 * * * * *', tz: 'UTC' } }))).toThrow(/5 fields/);
    expect(() => checkSpec(spec({ trigger: { kind: 'cron', expr: '0 3 * * *', tz: 'Mars/Olympus' } }))).toThrow(/unknown time zone "Mars\/Olympus"/);
    expect(() => checkSpec(spec({ trigger: { kind: 'every', ms: 10, anchorMs: 0 } }))).toThrow(/interval/);
    expect(() => checkSpec(spec({ name: 'Bad Name' }))).toThrow(/schedule name/);
    expect(() => checkSpec(spec({ trigger: { kind: 'cron', expr: '@daily', tz: 'Europe/Berlin' } }))).not.toThrow();
    expect(() => checkSpec(spec())).not.toThrow();
  });
});

describe('slots', () => {
  it('follows cron rules across DST in the schedule zone', () => {
    const daily = { kind: 'cron' as const, expr: '30 2 * * *', tz: 'Europe/Berlin' };
    // Spring forward (02:00 -> 03:00 CEST): 02:30 does not exist; it runs once at 03:00 local.
    expect(new Date(nextSlot(daily, T('2027-03-27T12:00:00Z'))!).toISOString()).toBe('2027-03-28T01:00:00.000Z');
    // Fall back (03:00 -> 02:00 CET): 02:30 happens twice; it runs once, at the first.
    const first = nextSlot(daily, T('2027-10-30T12:00:00Z'))!;
    expect(new Date(first).toISOString()).toBe('2027-10-31T00:30:00.000Z');
    expect(new Date(nextSlot(daily, first)!).toISOString()).toBe('2027-11-01T01:30:00.000Z');
    // A wildcard hour keeps its real-time rhythm through the repeated hour.
    const every20 = { kind: 'cron' as const, expr: '*/20 * * * *', tz: 'Europe/Berlin' };
    expect(slotsBetween(every20, T('2027-10-31T00:00:00Z'), T('2027-10-31T02:00:00Z')).count).toBe(6);
  });

  it('gives strictly later slots, and counts intervals without walking them', () => {
    const c = { kind: 'cron' as const, expr: '* * * * *', tz: 'UTC' };
    const at = T('2027-01-01T00:01:00Z');
    expect(nextSlot(c, at)).toBe(at + 60_000);
    expect(nextSlot(c, at - 1)).toBe(at);
    const e = { kind: 'every' as const, ms: 1000, anchorMs: 500 };
    expect(nextSlot(e, 0)).toBe(500);
    expect(nextSlot(e, 500)).toBe(1500);
    expect(slotsBetween(e, 500, 10_000_500)).toEqual({ count: 10_000, first: 1500, last: 10_000_500 });
    expect(nextSlot({ kind: 'once', atMs: 10 }, 10)).toBeNull();
  });

  it('spreads 50 machines over the jitter window, the same way every time', () => {
    const window = 60_000;
    const j = Array.from({ length: 50 }, (_v, i) => jitterFor(`machine-${i}`, 's1', 1_000_000, window));
    expect(j).toEqual(Array.from({ length: 50 }, (_v, i) => jitterFor(`machine-${i}`, 's1', 1_000_000, window)));
    const buckets = new Array(10).fill(0);
    for (const x of j) buckets[Math.floor((x / window) * 10)]++;
    expect(Math.min(...j)).toBeLessThan(window * 0.15);
    expect(Math.max(...j)).toBeGreaterThan(window * 0.85);
    expect(Math.max(...buckets)).toBeLessThanOrEqual(12); // 5 expected per tenth; a burst would put 50 in one
    expect(j.every((x) => x >= 0 && x < window)).toBe(true);
  });
});

describe('HeadTail', () => {
  it('keeps the first and last halves of a long output', () => {
    const h = new HeadTail(10);
    for (const s of ['abc', 'defgh', 'ijklmnop', 'qrstuvwxyz']) h.push(Buffer.from(s));
    expect(h.result()).toEqual({ head: 'abcde', tail: 'vwxyz' });
    expect(h.bytes).toBe(26);
    const short = new HeadTail(10);
    short.push(Buffer.from('abcdefg'));
    expect(short.result()).toEqual({ head: 'abcde', tail: 'fg' });
  });
});

describe('Scheduler (fake clock, real files)', () => {
  const dirs: Array<() => void> = [];
  afterEach(() => dirs.splice(0).forEach((c) => c()));

  function setup(start: number) {
    const t = tempDir();
    dirs.push(t.cleanup);
    const clock = new FakeClock(start);
    const runs: { slot: number; at: number; id: string }[] = [];
    let hold: Promise<void> | null = null;
    const make = () => {
      const files = new ScheduleFiles(t.dir);
      const journal = new RunJournal(files.dir);
      const s = new Scheduler({
        files,
        journal,
        clock,
        machineId: () => 'm1',
        log: silentLogger(),
        run: async (held: HeldSchedule): Promise<Outcome> => {
          runs.push({ slot: -1, at: clock.now(), id: held.schedule.id });
          if (hold) await hold;
          return { status: 'ok', exitCode: 0, outputHead: '', outputTail: '', outputBytes: 0, reason: '' };
        },
      });
      return { s, journal };
    };
    return { clock, runs, make, setHold: (p: Promise<void> | null) => (hold = p), dir: t.dir };
  }
  const held = (o: Partial<ScheduleSpec> = {}, extra: Partial<HeldSchedule> = {}): HeldSchedule => ({
    schedule: { ...spec(o), id: 's1', keyId: 'k', createdMs: 0, updatedMs: 0 } as ScheduleRecord,
    caps: ['exec'],
    keyExpiresMs: 0,
    ...extra,
  });

  it('runs every slot once, in order', async () => {
    const x = setup(10_000);
    const { s, journal } = x.make();
    s.replace([held()]);
    await x.clock.advance(10_000);
    const recs = journal.pending(0);
    expect(recs.map((r) => r.status)).toEqual(new Array(10).fill('ok'));
    expect(recs.map((r) => r.slotMs)).toEqual(Array.from({ length: 10 }, (_v, i) => 11_000 + i * 1000));
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_v, i) => i + 1));
    await s.stop();
  });

  it('after a restart runs no slot twice, and records slots missed while it was down per policy', async () => {
    const x = setup(10_000);
    let a = x.make();
    a.s.replace([held({ missed: 'skip', trigger: { kind: 'every', ms: 1000, anchorMs: 0 } })]);
    await x.clock.advance(3000); // slots 11, 12, 13
    await a.s.stop();
    a.journal.close();
    // Restarted at the same instant: slot 13 was claimed on disk, so it does not run again.
    a = x.make();
    a.s.start();
    await x.clock.advance(0);
    expect(a.journal.pending(0).filter((r) => r.status === 'ok').map((r) => r.slotMs)).toEqual([11_000, 12_000, 13_000]);
    await a.s.stop();
    a.journal.close();
    // Down for five minutes with missed=skip: one record for the 299 slots that passed; the slot
    // due this very second is on time, so it runs.
    x.clock.jump(300_000);
    a = x.make();
    a.s.start();
    await x.clock.advance(0);
    const missed = a.journal.pending(0).filter((r) => r.status === 'missed');
    expect(missed).toHaveLength(1);
    expect(missed[0]!.missedCount).toBe(299);
    expect(a.journal.pending(0).filter((r) => r.status === 'ok').map((r) => r.slotMs)).toEqual([11_000, 12_000, 13_000, 313_000]);
    await a.s.stop();
  });

  it('with missed=run_once runs the latest missed slot once at start, as a catch-up; with skip, none', async () => {
    for (const missed of ['run_once', 'skip'] as const) {
      const x = setup(0);
      let a = x.make();
      a.s.replace([held({ missed, trigger: { kind: 'cron', expr: '0 * * * *', tz: 'UTC' } })]);
      await a.s.stop();
      a.journal.close();
      x.clock.jump(5 * 3600_000 + 600_000); // five hourly slots passed, the last one ten minutes ago
      a = x.make();
      a.s.start();
      await x.clock.advance(0);
      const recs = a.journal.pending(0);
      if (missed === 'skip') expect(recs.map((r) => [r.status, r.missedCount])).toEqual([['missed', 5]]);
      else {
        expect(recs.map((r) => [r.status, r.cause, r.missedCount])).toEqual([['missed', 'clock', 4], ['ok', 'catchup', 0]]);
        expect(recs[1]!.slotMs).toBe(5 * 3600_000);
      }
      await a.s.stop();
    }
  });

  it('skips a slot while the last run goes on (skip), or queues exactly one (queue)', async () => {
    for (const concurrency of ['skip', 'queue'] as const) {
      const x = setup(10_000);
      const { s, journal } = x.make();
      let release!: () => void;
      x.setHold(new Promise<void>((r) => (release = r)));
      s.replace([held({ concurrency })]);
      await x.clock.advance(3000); // slot 11 runs and hangs; 12 and 13 find it running
      x.setHold(null);
      release();
      await x.clock.advance(0);
      await new Promise((r) => setImmediate(r));
      const recs = journal.pending(0);
      if (concurrency === 'skip') expect(recs.map((r) => [r.slotMs, r.status])).toEqual([[12_000, 'skipped'], [13_000, 'skipped'], [11_000, 'ok']]);
      else expect(recs.map((r) => [r.slotMs, r.status])).toEqual([[13_000, 'skipped'], [11_000, 'ok'], [12_000, 'ok']]);
      await s.stop();
    }
  });

  it('starts nothing while a fresh link has not delivered its set, and a deleted schedule never runs again', async () => {
    const x = setup(10_000);
    const { s, journal } = x.make();
    s.replace([held()]);
    await x.clock.advance(2000);
    expect(journal.pending(0)).toHaveLength(2);
    s.hold();
    await x.clock.advance(1500); // slot 13 falls inside the hold
    expect(journal.pending(0)).toHaveLength(2);
    s.replace([]); // the relay's set: it was deleted meanwhile
    await x.clock.advance(SYNC_HOLD_MS * 2);
    expect(journal.pending(0)).toHaveLength(2);
    expect(x.clock.pending).toBe(0);
    await s.stop();
  });

  it('stops at the key expiry even offline, and refuses an action the key may not do here', async () => {
    const x = setup(10_000);
    const { s, journal } = x.make();
    s.replace([held({}, { keyExpiresMs: 13_500 })]);
    await x.clock.advance(10_000);
    expect(journal.pending(0).map((r) => r.slotMs)).toEqual([11_000, 12_000, 13_000]);
    s.replace([held({}, { caps: ['info'] })]);
    await x.clock.advance(1000);
    const last = journal.pending(0).at(-1)!;
    expect([last.status, last.reason]).toEqual(['error', 'the key that created this schedule lacks the exec grant here']);
    await s.stop();
  });

  it('the run journal is bounded and says how many records it dropped', () => {
    const t = tempDir();
    dirs.push(t.cleanup);
    const j = new RunJournal(t.dir, 5);
    const base = { scheduleId: 's', machineId: 'm', slotMs: 0, startMs: 0, endMs: 0, status: 'ok' as const, exitCode: 0, outputHead: '', outputTail: '', outputBytes: 0, reason: '', cause: 'clock' as const, lateMs: 0, missedCount: 0 };
    for (let i = 0; i < 8; i++) j.append({ ...base, slotMs: i });
    expect(j.pending(0).map((r) => r.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(j.pending(0).at(-1)!.reason).toMatch(/1 older run records were dropped/);
    j.ack(6);
    j.close();
    const again = new RunJournal(t.dir, 50);
    expect(again.pending(0).map((r) => r.seq)).toEqual([7, 8]);
    expect(again.append({ ...base }).seq).toBe(9);
    // A report travels in one frame: big outputs make smaller batches.
    for (let i = 0; i < 10; i++) again.append({ ...base, outputHead: 'x'.repeat(32 * 1024), outputTail: 'y'.repeat(32 * 1024) });
    const batch = again.pending(9);
    expect(batch.length).toBeGreaterThanOrEqual(1);
    expect(batch.reduce((n, r) => n + r.outputHead.length + r.outputTail.length, 0)).toBeLessThanOrEqual(256 * 1024);
    again.close();
  });
});

describe('schedules from the wire (fuzzed)', () => {
  it('any decoded Schedule either becomes a valid spec or fails with a ValidationError', () => {
    const text = fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }), fc.constantFrom('*/5 * * * *', '61 * * * *', 'UTC', 'Europe/Berlin', 'Mars/X', 'job-1', 'echo hi', 'skip', 'queue', 'run_once', 'chat'));
    const wire = fc.record({
      name: text,
      target: fc.record({ machine: text, fleet: text, selector: text }),
      trigger: fc.record({ cron: text, tz: text, everyMs: fc.nat(10_000), atMs: fc.nat() }),
      action: fc.record({ command: text, prompt: text, agentType: text, timeoutMs: fc.nat(100_000), maxOutput: fc.nat(100_000), approved: fc.array(fc.oneof(text, fc.stringMatching(/^[0-9a-f]{64}$/)), { maxLength: 2 }) }),
      concurrency: text,
      jitterMs: fc.nat(100_000_000),
      missed: text,
      enabled: fc.boolean(),
    });
    fc.assert(
      fc.property(wire, fc.uint8Array({ maxLength: 64 }), (w, junk) => {
        for (const bytes of [cmdop.v1.Schedule.encode(w).finish(), junk]) {
          let decoded;
          try {
            decoded = cmdop.v1.Schedule.decode(bytes);
          } catch {
            continue; // the registry answers an undecodable request with a ValidationError itself
          }
          try {
            checkSpec(specFromWire(decoded));
          } catch (err) {
            if (!(err instanceof ValidationError)) throw err;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
