/**
 * Joins two streams end to end, both ways, under flow control: a chunk is granted back to its
 * sender only once the other stream took it (or drained), so a slow side pauses the fast one.
 * An error on either side aborts the other with it.
 */
import type { Stream } from '../../protocol/stream.js';

export function splice(a: Stream, b: Stream): void {
  const ab = direction(a, b);
  const ba = direction(b, a);
  a.handle({ onData: ab.data, onEnd: () => b.end(), onDrain: ba.drained, onClose: (err) => err && b.abort(err) });
  b.handle({ onData: ba.data, onEnd: () => a.end(), onDrain: ab.drained, onClose: (err) => err && a.abort(err) });
}

function direction(from: Stream, to: Stream) {
  from.autoConsume = false;
  let owed = 0;
  return {
    data(chunk: Uint8Array): void {
      if (to.write(chunk)) from.consume(chunk.length);
      else owed += chunk.length;
    },
    /** `to` sent what it queued: grant `from` what it was owed. */
    drained(): void {
      if (owed === 0) return;
      const n = owed;
      owed = 0;
      from.consume(n);
    },
  };
}
