/**
 * Timed holds on a session's output, each owned by a name (VS Code's grace timers are owned objects
 * that attach() cancels in the same way). Holding a name again restarts its timer; releasing it
 * cancels the timer, so a timer left by an earlier drop can never release a later hold early.
 */
export class Holds {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /**
   * @param pause called when a name starts holding
   * @param resume called when a name stops holding (released, or its time ran out)
   */
  constructor(private readonly pause: (name: string) => void, private readonly resume: (name: string) => void) {}

  /** Holds `name` for `ms`, restarting its timer if it already holds. */
  hold(name: string, ms: number): void {
    const old = this.timers.get(name);
    if (old) clearTimeout(old);
    else this.pause(name);
    const t = setTimeout(() => this.release(name), ms);
    t.unref();
    this.timers.set(name, t);
  }

  /** Ends the hold on `name` now, if there is one. */
  release(name: string): void {
    const t = this.timers.get(name);
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(name);
    this.resume(name);
  }

  /** Names holding now. */
  get size(): number {
    return this.timers.size;
  }

  /** Cancels every timer without resuming (the session is over). */
  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
