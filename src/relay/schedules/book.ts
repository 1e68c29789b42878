/**
 * The relay's schedules, in memory over the store (the system of record). Every change is
 * written to the store first and applied here only once it returned; listeners then push the new
 * sets to the agents.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../errors.js';
import { checkSpec, type ScheduleRecord, type ScheduleSpec } from '../../control/schedules/spec.js';
import type { RelayStore } from '../store/store.js';

export class ScheduleBook {
  private readonly byId = new Map<string, ScheduleRecord>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly store: RelayStore, private readonly now: () => number, schedules: readonly ScheduleRecord[]) {
    for (const s of schedules) this.byId.set(s.id, s);
  }

  /** Replaces everything with what the store holds now (another relay node changed it). */
  reload(schedules: readonly ScheduleRecord[]): void {
    this.byId.clear();
    for (const s of schedules) this.byId.set(s.id, s);
  }

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  list(): ScheduleRecord[] {
    return [...this.byId.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** By id or name. */
  find(ref: string): ScheduleRecord {
    const s = this.byId.get(ref) ?? [...this.byId.values()].find((x) => x.name === ref);
    if (!s) throw new NotFoundError(`no schedule ${ref}`, { detail: 'schedule_not_found' });
    return s;
  }

  async create(spec: ScheduleSpec, keyId: string): Promise<ScheduleRecord> {
    checkSpec(spec);
    if ([...this.byId.values()].some((s) => s.name === spec.name)) throw new ConflictError(`a schedule is already called ${spec.name}`);
    const now = this.now();
    const s: ScheduleRecord = { ...structuredClone(spec), id: randomUUID(), keyId, createdMs: now, updatedMs: now };
    if (s.trigger.kind === 'every' && !s.trigger.anchorMs) s.trigger.anchorMs = now;
    await this.store.putSchedule(s);
    this.byId.set(s.id, s);
    this.changed();
    return s;
  }

  async update(ref: string, patch: Partial<ScheduleSpec>): Promise<ScheduleRecord> {
    const cur = this.find(ref);
    const next: ScheduleRecord = { ...cur, ...structuredClone(patch), updatedMs: this.now() };
    if (next.trigger.kind === 'every' && !next.trigger.anchorMs) next.trigger.anchorMs = this.now();
    checkSpec(next);
    if (next.name !== cur.name && [...this.byId.values()].some((s) => s.name === next.name)) throw new ConflictError(`a schedule is already called ${next.name}`);
    await this.store.putSchedule(next);
    this.byId.set(next.id, next);
    this.changed();
    return next;
  }

  async delete(ref: string): Promise<ScheduleRecord> {
    const s = this.find(ref);
    if (!(await this.store.deleteSchedule(s.id))) throw new NotFoundError(`no schedule ${ref}`, { detail: 'schedule_not_found' });
    this.byId.delete(s.id);
    this.changed();
    return s;
  }
}
