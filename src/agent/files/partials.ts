/**
 * Upload litter, journalled before it exists: every upload's temp file (or resumable partial)
 * is written into an index in the state dir *before* it is opened, so that nothing survives a
 * crash of the agent (SIGKILL, power cut after the index reached the disk). At start, temps left
 * by a dead agent are deleted at once (an upload never outlives its process), and partials are
 * kept for resume until the TTL from their last write passes. Swept at start and every few
 * minutes.
 */
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../log.js';
import { writeFileAtomic } from '../../platform/atomic.js';

const SWEEP_EVERY_MS = 5 * 60_000;

/** The partial file an interrupted resumable upload to `path` keeps. */
export function partialPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.cmdop-part`);
}

/** One journalled file: when it was last started or cut, and whether it is a plain temp. */
interface Entry {
  t: number;
  temp: boolean;
}

export class Partials {
  private readonly file: string;
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;
  /** Partials with an upload running now (one at a time per destination), and who waits for them. */
  private readonly running = new Map<string, Array<() => void>>();

  constructor(stateDir: string, private readonly ttlMs: number, private readonly log: Logger) {
    this.file = join(stateDir, 'uploads.json');
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, number | Entry>;
      for (const [p, e] of Object.entries(data)) {
        if (typeof e === 'number') this.entries.set(p, { t: e, temp: false }); // an index from before temps were journalled
        else if (e && typeof e.t === 'number') this.entries.set(p, { t: e.t, temp: !!e.temp });
      }
    } catch {
      // no index yet (or unreadable): nothing to sweep
    }
    this.afterCrash();
    this.sweep();
    this.timer = setInterval(() => this.sweep(), Math.min(SWEEP_EVERY_MS, Math.max(1000, ttlMs / 4)));
    this.timer.unref();
  }

  /** Claims `partial` for an upload; false if another upload to the same destination runs. */
  claim(partial: string): boolean {
    if (this.running.has(partial)) return false;
    this.running.set(partial, []);
    return true;
  }

  release(partial: string): void {
    const waiters = this.running.get(partial) ?? [];
    this.running.delete(partial);
    for (const w of waiters) w();
  }

  isRunning(partial: string): boolean {
    return this.running.has(partial);
  }

  /** Resolves true once no upload to `partial` runs (a cut one may still be winding down), false after `timeoutMs`. */
  whenIdle(partial: string, timeoutMs: number): Promise<boolean> {
    const waiters = this.running.get(partial);
    if (!waiters) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      waiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** An upload is about to create (or reopen) `path`: journal it first. */
  begin(path: string, temp: boolean): void {
    this.entries.set(path, { t: Date.now(), temp });
    this.save();
  }

  /** An upload to `partial` was cut and may be resumed until the TTL passes. */
  keep(partial: string): void {
    this.entries.set(partial, { t: Date.now(), temp: false });
    this.save();
  }

  /** The partial was committed, replaced or deleted. */
  forget(partial: string): void {
    if (this.entries.delete(partial)) this.save();
  }

  /**
   * What a previous process left: its temps go now; a partial counts as cut when last written
   * (its mtime), so a resume TTL holds across the crash.
   */
  private afterCrash(): void {
    for (const [p, e] of this.entries) {
      if (!e.temp) {
        const mtime = statSync(p, { throwIfNoEntry: false })?.mtimeMs;
        if (mtime !== undefined) e.t = Math.max(e.t, mtime);
        continue;
      }
      try {
        unlinkSync(p);
        this.log.info({ temp: p }, 'removed the temp file of an upload cut by an agent crash');
      } catch {
        // never created, or already gone
      }
      this.entries.delete(p);
    }
    this.save();
  }

  sweep(now = Date.now()): void {
    let changed = false;
    for (const [p, { t, temp }] of this.entries) {
      if (temp) continue; // a live upload's temp: its upload removes it (or the next start, after a crash)
      if (now - t < this.ttlMs && existsSync(p)) continue;
      if (this.running.has(p)) continue;
      try {
        unlinkSync(p);
        this.log.info({ partial: p }, 'removed an upload that was not resumed in time');
      } catch {
        // already gone
      }
      this.entries.delete(p);
      changed = true;
    }
    if (changed) this.save();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private save(): void {
    try {
      writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.entries)));
    } catch (err) {
      this.log.warn({ err }, 'could not save the upload index');
    }
  }
}
