/**
 * The agent's own copy of its schedules, in `<stateDir>/schedules/`: the set the relay last
 * pushed (`set.json`, written atomically) and, per schedule, the last slot this host claimed. A
 * claim is one line appended to `claims.log` and fdatasynced before its run starts (one sync,
 * not the four of an atomic rewrite: schedules due together must not queue behind fsyncs), so a
 * restart never runs a slot twice; the log is folded into `slots.json` now and then.
 */
import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic.js';
import type { ScheduleRecord } from '../../control/schedules/spec.js';

/** Claims appended before the log is folded into slots.json. */
const FOLD_AFTER = 10_000;

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
  private readonly claimsPath: string;
  private claimsFd = -1;
  private claims = 0;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'schedules');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.setPath = join(this.dir, 'set.json');
    this.slotsPath = join(this.dir, 'slots.json');
    this.claimsPath = join(this.dir, 'claims.log');
  }

  loadSet(): HeldSchedule[] {
    return read<{ schedules: HeldSchedule[] }>(this.setPath)?.schedules ?? [];
  }

  saveSet(schedules: readonly HeldSchedule[]): void {
    writeFileAtomic(this.setPath, JSON.stringify({ schedules }));
  }

  /** The last claimed slot per schedule: the folded file, then the claims after it. */
  loadSlots(): Map<string, number> {
    const slots = new Map(Object.entries(read<Record<string, number>>(this.slotsPath) ?? {}));
    if (existsSync(this.claimsPath)) {
      for (const line of readFileSync(this.claimsPath, 'utf8').split('\n')) {
        const [id, slot] = line.split(' ');
        const at = Number(slot);
        if (id && Number.isFinite(at) && at > (slots.get(id) ?? -Infinity)) slots.set(id, at); // a torn last line is no claim
      }
    }
    return slots;
  }

  /** Every slot as it is now (after schedules came or went), folded into slots.json; the log starts over. */
  saveSlots(slots: ReadonlyMap<string, number>): void {
    writeFileAtomic(this.slotsPath, JSON.stringify(Object.fromEntries(slots)));
    if (this.claimsFd >= 0) closeSync(this.claimsFd);
    this.claimsFd = openSync(this.claimsPath, 'w', 0o600);
    this.claims = 0;
  }

  /** Claims one slot durably (appended and fdatasynced) before its run starts. */
  claim(id: string, slot: number, all: ReadonlyMap<string, number>): void {
    if (this.claims >= FOLD_AFTER) return this.saveSlots(all);
    if (this.claimsFd < 0) this.claimsFd = openSync(this.claimsPath, 'a', 0o600);
    const buf = Buffer.from(`${id} ${slot}\n`);
    for (let off = 0; off < buf.length; ) off += writeSync(this.claimsFd, buf, off, buf.length - off);
    fdatasyncSync(this.claimsFd);
    this.claims++;
  }

  close(): void {
    if (this.claimsFd >= 0) closeSync(this.claimsFd);
    this.claimsFd = -1;
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
