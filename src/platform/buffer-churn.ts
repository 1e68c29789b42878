/**
 * Young collections paced by the data path.
 *
 * Every byte a link moves is held in a Buffer that dies young: Node's TLS reads (one
 * ArrayBuffer per 16 KiB record), the message ws joins from them, a tunnel socket's reads. The
 * JavaScript objects in front of those bytes are few (a bulk message is 256 KiB), so V8's young
 * generation fills slowly and scavenges are rare; meanwhile the ArrayBuffers behind them pile up
 * as external memory until V8's external-memory trigger starts a full mark-compact, with its
 * concurrent marking on the other core. Measured on a tunnel download before this: a full
 * collection every ~140 ms in the relay, 2 ms of each MiB's 6 ms of relay CPU on V8's helper
 * threads (the bare TLS chain: 0.05), and likewise in the agent and the client.
 *
 * So the data path counts the bytes it moves and asks for a young collection (a scavenge,
 * well under a millisecond: the young generation is small) every CHURN_BYTES. The dead
 * ArrayBuffers go with it, and external memory never reaches the trigger. An idle link moves
 * nothing and never collects.
 *
 * V8 offers the collection only through `gc`, which it exposes to contexts made while its
 * `--expose-gc` flag is set: the flag is set for one new context, taken off again, and only that
 * context's `gc` is kept (no global `gc` appears in ours).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bytes moved between two young collections. Measured on a tunnel download (MiB between
 * collections: throughput against the bare chain in the same run): 8: 0.6-0.8x, 4: 0.83-0.98x,
 * 2: 0.95-1.0x, 1: 0.9-0.96x. Below 2 the collections themselves start to cost; above it the
 * dead ArrayBuffers of the bytes held twice (a TLS read and the message joined from it) reach
 * V8's trigger between them often enough to bring the full collections back. At 200 MB/s a
 * relay (which counts each byte in and out) collects ~200 times a second, ~0.1-0.3 ms each.
 */
export const CHURN_BYTES = 2 * 1024 * 1024;

/** Pure: counts bytes and says when a collection is due. */
export class ChurnGate {
  private since = 0;

  constructor(private readonly every: number) {}

  /** Counts `n` bytes; true when a collection is due (the count then starts again). */
  note(n: number): boolean {
    this.since += n;
    if (this.since < this.every) return false;
    this.since = 0;
    return true;
  }
}

type Collect = () => void;
let collector: Collect | null | undefined;

/** V8's young collection, or null where the runtime does not expose it. Made on first use. */
export function youngCollector(): Collect | null {
  if (collector !== undefined) return collector;
  collector = null;
  const global: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') {
    // Started with --expose-gc: use that one, and leave the flag as the operator set it.
    collector = () => void (global as (o: { type: 'minor' }) => void)({ type: 'minor' });
    return collector;
  }
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') collector = () => void (gc as (o: { type: 'minor' }) => void)({ type: 'minor' });
  } catch {
    // A runtime that refuses the flag: V8's own triggers stay in charge.
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return collector;
}

const gate = new ChurnGate(CHURN_BYTES);

/** The data path moved `n` bytes (received or sent on a link): collects the young generation when due. */
export function noteBufferChurn(n: number): void {
  if (gate.note(n)) youngCollector()?.();
}
