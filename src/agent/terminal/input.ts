/**
 * Input into a pty master, in order, without ever blocking the agent. A write to a master in
 * blocking mode would freeze the whole agent (every session, the relay link, the heartbeats)
 * when a program stops reading its input. So input goes straight in only when the master is
 * known to be non-blocking (a keystroke then costs no thread hop); what the pty does not take
 * waits in a queue written from the thread pool, one write at a time, retried on EAGAIN. `done`
 * runs once the pty has taken the bytes, and callers grant credit only then: a stuck program
 * stalls its own input and nothing else.
 */
import { readFileSync, write as fsWrite, writeSync } from 'node:fs';

/** A pty that answered EAGAIN is tried again after this long. */
const INPUT_RETRY_MS = 5;
/** O_NONBLOCK, as /proc/self/fdinfo shows it (octal flags). */
const O_NONBLOCK = 0o4000;

/** Linux: whether `fd` is in non-blocking mode; false (the safe answer) where that cannot be told. */
function fdIsNonBlocking(fd: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return !!m && (parseInt(m[1]!, 8) & O_NONBLOCK) !== 0;
  } catch {
    return false;
  }
}

/** Bytes a non-blocking fd took now: -1 on EAGAIN (nothing taken), all of them when the program has gone (EIO). */
function writeNow(fd: number, data: Uint8Array): number {
  try {
    return writeSync(fd, data);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EAGAIN' ? -1 : data.length;
  }
}

export class PtyInput {
  private readonly queue: Array<{ data: Uint8Array; done: (() => void) | undefined }> = [];
  private writing = false;
  private nonBlocking: boolean | undefined;
  /** Set once the program has gone: queued input is dropped (its callers still hear `done`). */
  closed = false;

  constructor(private readonly fd: number) {}

  write(data: Uint8Array, done?: () => void): void {
    if (this.closed) return done?.();
    if (this.queue.length === 0 && !this.writing && (this.nonBlocking ??= fdIsNonBlocking(this.fd))) {
      const n = writeNow(this.fd, data);
      if (n === data.length) return done?.();
      data = data.subarray(Math.max(n, 0));
    }
    this.queue.push({ data, done });
    this.pump();
  }

  private pump(): void {
    if (this.writing || this.queue.length === 0) return;
    if (this.closed) {
      for (const w of this.queue.splice(0)) w.done?.();
      return;
    }
    const w = this.queue[0]!;
    this.writing = true;
    fsWrite(this.fd, w.data, 0, w.data.length, null, (err, n) => {
      this.writing = false;
      if (err && err.code === 'EAGAIN') {
        setTimeout(() => this.pump(), INPUT_RETRY_MS).unref();
        return;
      }
      if (!err && n < w.data.length) {
        w.data = w.data.subarray(n);
      } else {
        // EIO and friends: the program has gone; its input goes nowhere.
        this.queue.shift();
        w.done?.();
      }
      this.pump();
    });
  }
}
