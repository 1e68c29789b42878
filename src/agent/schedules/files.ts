/**
 * The agent's own copy of its schedules, in `<stateDir>/schedules/`: the set the relay last
 * pushed (`set.json`) and, per schedule, the last slot this host claimed (`slots.json`). Both are
 * written atomically (temp, fsync, rename), and a slot is claimed on disk before its run starts,
 * so a restart never runs a slot twice.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic.js';
import type { ScheduleRecord } from '../../control/schedules/spec.js';

export interface HeldSchedule {
  schedule: ScheduleRecord;
  /** What the creating key may do here, as the relay last said. */
  caps: string[];
  /** 0 = the key never expires; else the agent stops running it then, offline or not. */
  keyExpiresMs: number;
}

export class ScheduleFiles {
  readonly dir: string;
  private readonly setPath: string;
  private readonly slotsPath: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'schedules');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.setPath = join(this.dir, 'set.json');
    this.slotsPath = join(this.dir, 'slots.json');
  }

  loadSet(): HeldSchedule[] {
    return read<{ schedules: HeldSchedule[] }>(this.setPath)?.schedules ?? [];
  }

  saveSet(schedules: readonly HeldSchedule[]): void {
    writeFileAtomic(this.setPath, JSON.stringify({ schedules }));
  }

  loadSlots(): Map<string, number> {
    return new Map(Object.entries(read<Record<string, number>>(this.slotsPath) ?? {}));
  }

  saveSlots(slots: ReadonlyMap<string, number>): void {
    writeFileAtomic(this.slotsPath, JSON.stringify(Object.fromEntries(slots)));
  }
}

function read<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null; // a damaged file: the relay pushes the set again on connect
  }
}
