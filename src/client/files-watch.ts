/** A live `files.watch`: an async iterable of coalesced change events, until close(). */
import { cmdop } from '../protocol/gen/cmdop.js';
import { MessageReader, MSG_EVENT } from '../protocol/messages.js';
import type { Stream } from '../protocol/stream.js';
import { UnavailableError, type CmdopError } from '../errors.js';
import type { WatchEvent } from './files-types.js';

export class FileWatch implements AsyncIterable<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private error: CmdopError | null = null;

  constructor(private readonly stream: Stream) {
    const reader = new MessageReader((type, body) => {
      if (type !== MSG_EVENT) return;
      for (const e of cmdop.v1.WatchEvents.decode(body).events) this.queue.push({ type: e.type as WatchEvent['type'], path: e.path });
      this.wake();
    });
    stream.handle({
      onData: (c) => reader.push(c),
      onClose: (err) => {
        this.ended = true;
        this.error = err;
        this.wake();
      },
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WatchEvent> {
    for (;;) {
      const e = this.queue.shift();
      if (e) {
        yield e;
        continue;
      }
      if (this.ended) {
        if (this.error && this.error.detail !== 'watch_closed') throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** Stops watching on the machine. */
  close(): void {
    if (!this.stream.finished) this.stream.abort(new UnavailableError('watch closed by the client', { detail: 'watch_closed' }));
    this.ended = true;
    this.wake();
  }
}
