/**
 * Interrupted resumable uploads: the partial file beside its destination, remembered in the
 * state dir so that the agent can delete the ones nobody resumed. Swept at start and every few
 * minutes; a partial older than the TTL is removed. Non-resumable uploads never leave one.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../log.js';
import { writeFileAtomic } from '../identity.js';

const SWEEP_EVERY_MS = 5 * 60_000;

/** The partial file an interrupted resumable upload to `path` keeps. */
export function partialPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.cmdop-part`);
}

export class Partials {
  private readonly file: string;
  private readonly entries = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  /** Partials with an upload running now (one at a time per destination), and who waits for them. */
  private readonly running = new Map<string, Array<() => void>>();

  constructor(stateDir: string, private readonly ttlMs: number, private readonly log: Logger) {
    this.file = join(stateDir, 'uploads.json');
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, number>;
      for (const [p, t] of Object.entries(data)) if (typeof t === 'number') this.entries.set(p, t);
    } catch {
      // no index yet (or unreadable): nothing to sweep
    }
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

  /** An upload to `partial` was cut and may be resumed until the TTL passes. */
  keep(partial: string): void {
    this.entries.set(partial, Date.now());
    this.save();
  }

  /** The partial was committed, replaced or deleted. */
  forget(partial: string): void {
    if (this.entries.delete(partial)) this.save();
  }

  sweep(now = Date.now()): void {
    let changed = false;
    for (const [p, t] of this.entries) {
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
