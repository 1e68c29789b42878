/** A live `files.watch`: an async iterable of coalesced change events, until close(). */
import { cmdop } from '../protocol/gen/cmdop.js';
import { MessageReader, MSG_EVENT } from '../protocol/messages.js';
import type { Stream } from '../protocol/stream.js';
import { UnavailableError } from '../errors.js';
import { AsyncQueue } from './async-queue.js';
import type { WatchEvent } from './files-types.js';

export class FileWatch implements AsyncIterable<WatchEvent> {
  private readonly queue = new AsyncQueue<WatchEvent>();

  constructor(private readonly stream: Stream) {
    const reader = new MessageReader((type, body) => {
      if (type !== MSG_EVENT) return;
      for (const e of cmdop.v1.WatchEvents.decode(body).events) this.queue.push({ type: e.type as WatchEvent['type'], path: e.path });
    });
    stream.handle({
      onData: (c) => reader.push(c),
      // Our own close() is a clean end, not an error.
      onClose: (err) => this.queue.end(err && err.detail !== 'watch_closed' ? err : null),
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this.queue[Symbol.asyncIterator]();
  }

  /** Stops watching on the machine. */
  close(): void {
    if (!this.stream.finished) this.stream.abort(new UnavailableError('watch closed by the client', { detail: 'watch_closed' }));
    this.queue.end();
  }
}
