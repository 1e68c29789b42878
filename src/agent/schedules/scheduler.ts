/**
 * Runs the schedules this host holds, on its own clock, with or without the relay. Per schedule
 * it keeps the last slot it claimed (on disk, claimed before the run starts) and sleeps until the
 * next slot plus this machine's jitter. When it wakes to more than one slot due (the agent was not
 * running, or the host slept), the older ones are recorded as one `missed` record, and the latest
 * runs if it is still on time (within ON_TIME_MS) or the schedule's missed policy is run_once.
 *
 * While a fresh relay link has not yet delivered the current set, nothing starts (at most
 * SYNC_HOLD_MS): a schedule deleted or changed while this host was offline must not run once
 * more just because its old copy woke first.
 */
import type { Logger } from '../../log.js';
import { actionCapability } from '../../control/schedules/spec.js';
import { jitterFor, nextSlot, slotsBetween } from '../../control/schedules/slots.js';
import type { RunCause, RunRecord } from '../../relay/store/records.js';
import type { Clock } from './clock.js';
import type { HeldSchedule, ScheduleFiles } from './files.js';
import type { RunJournal } from './journal.js';
import type { Outcome } from './runner.js';

export const ON_TIME_MS = 60_000;
export const SYNC_HOLD_MS = 10_000;

export interface SchedulerDeps {
  files: ScheduleFiles;
  journal: RunJournal;
  clock: Clock;
  run(held: HeldSchedule, signal: AbortSignal): Promise<Outcome>;
  machineId(): string;
  audit?(type: string, caller: string, fields: Record<string, unknown>): void;
  log: Logger;
}

interface Entry {
  held: HeldSchedule;
  cancel: (() => void) | null;
  running: number;
  queued: { slot: number; cause: RunCause } | null;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly running = new Map<AbortController, Promise<void>>();
  private slots: Map<string, number>;
  private holdUntil = 0;
  private holdCancel: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly d: SchedulerDeps) {
    this.slots = d.files.loadSlots();
  }

  /** Starts from the copy on disk: slots missed while this agent was down are handled now. */
  start(): void {
    this.apply(this.d.files.loadSet(), false);
  }

  /** The relay's current set for this host: it replaces ours and wins. */
  replace(set: readonly HeldSchedule[]): void {
    this.d.files.saveSet(set);
    this.holdUntil = 0;
    this.holdCancel?.();
    this.holdCancel = null;
    this.apply(set, true);
  }

  /** A relay link came up: start nothing until its set arrives (or SYNC_HOLD_MS passes). */
  hold(): void {
    this.holdUntil = this.d.clock.now() + SYNC_HOLD_MS;
    for (const e of this.entries.values()) this.disarm(e);
    this.holdCancel?.();
    this.holdCancel = this.d.clock.at(this.holdUntil, () => {
      this.holdUntil = 0;
      this.holdCancel = null;
      for (const e of this.entries.values()) this.evaluate(e);
    });
  }

  /** "Run now", from the relay: outside the slots, under the same concurrency policy. */
  trigger(id: string): boolean {
    const e = this.entries.get(id);
    if (!e || this.stopped) return false;
    this.start1(e, this.d.clock.now(), 'manual');
    return true;
  }

  list(): HeldSchedule[] {
    return [...this.entries.values()].map((e) => e.held);
  }

  /**
   * Stops the clock and kills running jobs, and resolves once their records are written (their
   * slots stay claimed: a restart does not run them again).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.holdCancel?.();
    for (const e of this.entries.values()) this.disarm(e);
    for (const ac of this.running.keys()) ac.abort();
    await Promise.all(this.running.values());
    this.d.files.close();
  }

  private apply(set: readonly HeldSchedule[], fromRelay: boolean): void {
    const now = this.d.clock.now();
    const ids = new Set(set.map((h) => h.schedule.id));
    for (const [id, e] of this.entries) {
      if (ids.has(id)) continue;
      this.disarm(e);
      this.entries.delete(id);
    }
    let slotsChanged = false;
    for (const [id] of this.slots) {
      if (!ids.has(id)) {
        this.slots.delete(id);
        slotsChanged = true;
      }
    }
    for (const held of set) {
      const id = held.schedule.id;
      const old = this.entries.get(id);
      // A new schedule starts from now; so does one whose trigger changed (its old slots mean nothing).
      const retimed = old && JSON.stringify(old.held.schedule.trigger) !== JSON.stringify(held.schedule.trigger);
      if (!this.slots.has(id) || retimed) {
        this.slots.set(id, now);
        slotsChanged = true;
      }
      const e: Entry = old ?? { held, cancel: null, running: 0, queued: null };
      e.held = held;
      this.entries.set(id, e);
    }
    if (slotsChanged) this.d.files.saveSlots(this.slots);
    if (fromRelay || !this.holding()) for (const e of this.entries.values()) this.evaluate(e);
  }

  private holding(): boolean {
    return this.holdUntil > 0 && this.d.clock.now() < this.holdUntil;
  }

  private disarm(e: Entry): void {
    e.cancel?.();
    e.cancel = null;
  }

  private jitter(e: Entry, slot: number): number {
    return jitterFor(this.d.machineId(), e.held.schedule.id, slot, e.held.schedule.jitterMs);
  }

  /** Handles every slot due now, then sleeps until the next one. */
  private evaluate(e: Entry): void {
    this.disarm(e);
    if (this.stopped || this.holding() || this.entries.get(e.held.schedule.id) !== e) return;
    const s = e.held.schedule;
    const now = this.d.clock.now();
    const claimed = this.slots.get(s.id) ?? now;
    const due = slotsBetween(s.trigger, claimed, now);
    if (due.count > 0) {
      const last = due.last!;
      if (last + this.jitter(e, last) > now && due.count === 1) return this.arm(e, last);
      const onTime = now - (last + this.jitter(e, last)) <= ON_TIME_MS;
      const run = onTime || s.missed === 'run_once';
      const missed = due.count - (run ? 1 : 0);
      this.slots.set(s.id, last);
      this.d.files.claim(s.id, last, this.slots);
      if (missed > 0) this.record(e, { slotMs: due.first!, startMs: now, endMs: now, status: 'missed', cause: 'clock', missedCount: missed, reason: `${missed} slot${missed > 1 ? 's' : ''} passed while this agent was not running` });
      if (run) this.start1(e, last, onTime ? 'clock' : 'catchup');
    }
    const next = nextSlot(s.trigger, this.slots.get(s.id)!);
    if (next !== null) this.arm(e, next);
  }

  private arm(e: Entry, slot: number): void {
    const exp = e.held.keyExpiresMs;
    if (exp && slot >= exp) return; // the creating key will have expired: the schedule stops, offline too
    e.cancel = this.d.clock.at(slot + this.jitter(e, slot), () => {
      e.cancel = null;
      this.evaluate(e);
    });
  }

  private start1(e: Entry, slot: number, cause: RunCause): void {
    const s = e.held.schedule;
    const now = this.d.clock.now();
    const need = actionCapability(s.action);
    if (!e.held.caps.includes(need)) return this.record(e, { slotMs: slot, startMs: now, endMs: now, status: 'error', cause, reason: `the key that created this schedule lacks the ${need} grant here` });
    if (e.running > 0) {
      if (s.concurrency === 'queue' && !e.queued) {
        e.queued = { slot, cause };
        return;
      }
      return this.record(e, { slotMs: slot, startMs: now, endMs: now, status: 'skipped', cause, reason: s.concurrency === 'queue' ? 'the last run is still going and one run is already queued' : 'the last run is still going' });
    }
    e.running++;
    const ac = new AbortController();
    const lateMs = cause === 'manual' ? 0 : Math.max(0, now - slot - this.jitter(e, slot));
    const done = this.d
      .run(e.held, ac.signal)
      .catch((err: Error): Outcome => ({ status: 'error', exitCode: -1, outputHead: '', outputTail: '', outputBytes: 0, reason: err.message }))
      .then((o) => {
        this.running.delete(ac);
        e.running--;
        const reason = ac.signal.aborted && this.stopped ? `${o.reason ? o.reason + '; ' : ''}the agent stopped during the run` : o.reason;
        this.record(e, { ...o, reason, slotMs: slot, startMs: now, endMs: this.d.clock.now(), cause, lateMs });
        const q = e.queued;
        e.queued = null;
        if (q && !this.stopped && this.entries.get(s.id) === e) this.start1(e, q.slot, q.cause);
      });
    this.running.set(ac, done);
  }

  private record(e: Entry, r: Partial<RunRecord> & Pick<RunRecord, 'slotMs' | 'startMs' | 'endMs' | 'status' | 'cause'>): void {
    const s = e.held.schedule;
    const rec = this.d.journal.append({ scheduleId: s.id, machineId: this.d.machineId(), exitCode: 0, outputHead: '', outputTail: '', outputBytes: 0, reason: '', lateMs: 0, missedCount: 0, ...r });
    this.d.audit?.('schedule.run', `schedule:${s.id}`, { schedule: s.id, name: s.name, seq: rec.seq, slotMs: rec.slotMs, status: rec.status, exitCode: rec.exitCode, cause: rec.cause, ...(rec.missedCount ? { missed: rec.missedCount } : {}) });
  }
}
