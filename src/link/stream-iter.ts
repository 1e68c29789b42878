/**
 * A stream's incoming bytes as an async iterable, with flow control carried through: credit is
 * granted only for chunks the consumer has taken, so a slow reader slows the sender. No Node
 * built-ins (the web console uses it); Node code that wants a Readable uses node-streams.ts.
 */
import type { Stream } from '../protocol/stream.js';
import { UnavailableError } from '../errors.js';

export function bytesOf(stream: Stream): AsyncIterable<Uint8Array> {
  stream.autoConsume = false;
  const queue: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: Error | null = null;
  stream.handle({
    onData: (c) => {
      queue.push(c);
      wake?.();
    },
    onEnd: () => {
      finished = true;
      wake?.();
    },
    onClose: (err) => {
      finished = true;
      failure ??= err;
      wake?.();
    },
  });
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const c = queue.shift();
          if (c) {
            yield c;
            stream.consume(c.length);
            continue;
          }
          if (finished) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((r) => (wake = r));
          wake = null;
        }
      } finally {
        // The consumer stopped early (a break, a throw): the sender is told, not left waiting.
        if (!stream.finished) stream.abort(new UnavailableError('cancelled by the reader'));
      }
    },
  };
}
