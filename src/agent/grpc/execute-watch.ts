/**
 * The official SDK's `terminal.execute(cmd, { timeoutMs })` types an envelope into the session
 * (`printf "\n<<CMD:id:START>>\n"; cmd; printf "\n<<CMD:id:END:%d>>\n" $?`) and polls GetOutput
 * until the end marker shows or its timeout passes. On timeout it just stops polling: the command
 * would run on, and every later execute would queue behind it. So the agent watches each envelope:
 * once its poller has gone quiet for `idleMs` (a few of its poll intervals) without the end marker,
 * it interrupts the session's foreground process group (SIGINT), then kills it (SIGKILL) if the
 * marker still has not come `killAfterMs` later. Timers only; the checks are the caller's.
 */
const ENVELOPE = /printf "\\n<<CMD:([A-Za-z0-9]+):START>>\\n"; /;

export interface WatchedRun {
  id: string;
  sessionId: string;
  /** The session's output offset when the envelope was typed. */
  fromOffset: number;
}

export interface ExecuteWatchOptions {
  /** Is the run's end marker in the session's output yet? */
  finished: (run: WatchedRun) => Promise<boolean>;
  signal: (run: WatchedRun, signal: 'SIGINT' | 'SIGKILL') => Promise<void>;
  idleMs?: number;
  killAfterMs?: number;
  tickMs?: number;
}

interface Pending extends WatchedRun {
  lastPoll: number;
  interruptedAt: number | null;
  checking: boolean;
}

export function envelopeId(input: string): string | null {
  return ENVELOPE.exec(input)?.[1] ?? null;
}

/** Has `output` the run's end marker? (The shell's echo of the envelope has `%d` there, not digits.) */
export function hasEndMarker(output: string, id: string): boolean {
  return new RegExp(`<<CMD:${id}:END:\\d+>>`).test(output);
}

export class ExecuteWatch {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;
  private readonly killAfterMs: number;
  private readonly tickMs: number;

  constructor(private readonly o: ExecuteWatchOptions) {
    this.idleMs = o.idleMs ?? 3000;
    this.killAfterMs = o.killAfterMs ?? 2000;
    this.tickMs = o.tickMs ?? 500;
  }

  get size(): number {
    return this.pending.size;
  }

  /** An envelope was typed into a session. */
  started(run: WatchedRun): void {
    this.pending.set(run.id, { ...run, lastPoll: Date.now(), interruptedAt: null, checking: false });
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  /** A GetOutput on a session: its runs' pollers are alive; an answer with a run's end marker ends it. */
  polled(sessionId: string, answer: string): void {
    const now = Date.now();
    for (const p of this.pending.values()) {
      if (p.sessionId !== sessionId) continue;
      if (hasEndMarker(answer, p.id)) this.drop(p.id);
      else p.lastPoll = now;
    }
  }

  /** The session is gone. */
  closed(sessionId: string): void {
    for (const p of [...this.pending.values()]) if (p.sessionId === sessionId) this.drop(p.id);
  }

  stop(): void {
    this.pending.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private drop(id: string): void {
    this.pending.delete(id);
    if (this.pending.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const p of this.pending.values()) {
      if (p.checking) continue;
      const due = p.interruptedAt === null ? now - p.lastPoll >= this.idleMs : now - p.interruptedAt >= this.killAfterMs;
      if (due) void this.act(p);
    }
  }

  private async act(p: Pending): Promise<void> {
    p.checking = true;
    try {
      if (await this.o.finished(p)) return this.drop(p.id);
      if (p.interruptedAt === null) {
        p.interruptedAt = Date.now();
        await this.o.signal(p, 'SIGINT');
      } else {
        this.drop(p.id);
        await this.o.signal(p, 'SIGKILL');
      }
    } catch {
      this.drop(p.id); // the session went away
    } finally {
      p.checking = false;
    }
  }
}
