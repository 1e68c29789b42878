/**
 * After a burst of links (a reconnect herd), once no new link has come for a while, asks V8 for
 * one memory-reducing collection, the one its memory reducer would run by itself tens of
 * seconds later (measured: ~45 s after a 2,000-agent herd on this machine).
 *
 * A herd of thousands of TLS handshakes grows V8's young generation to its maximum (16 MB a
 * semi-space) and leaves garbage in the old one; until the collection, that is RSS an operator
 * reads as the cost of the links. Measured, 3,333 simulated agents on one node: RSS per agent
 * 62 KB just after the herd, 48 KB after the collection. Capping the young generation instead
 * (`--semi-space-growth-factor=1`) gave 46 KB but cost tunnel bulk throughput (0.85x -> 0.52-0.75x
 * the bare chain), since the relay allocates hard while it forwards. A collection once per
 * herd costs one pause (tens of milliseconds) when the relay is quiet.
 */
import type { Logger } from '../log.js';
import { reduceHeap } from '../platform/heap.js';

/** Links that make a herd, and the quiet (no new link) after which the relay compacts. */
export const HERD_LINKS = 500;
export const HERD_QUIET_MS = 2000;

export interface CompactorOptions {
  /** Links that make a herd. */
  minLinks: number;
  /** Quiet this long (no new link) before the collection. */
  quietMs: number;
  compact: () => void;
}

export class HerdCompactor {
  private count = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: CompactorOptions) {}

  /** A link came up. */
  note(): void {
    if (++this.count < this.o.minLinks) return;
    if (this.timer) this.timer.refresh();
    else (this.timer = setTimeout(() => this.fire(), this.o.quietMs)).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    this.count = 0;
    this.o.compact();
  }
}

/** The relay's compactor: the defaults above, failures only logged (the collection is an optimisation). */
export function herdCompactor(log: Logger): HerdCompactor {
  return new HerdCompactor({ minLinks: HERD_LINKS, quietMs: HERD_QUIET_MS, compact: () => void reduceHeap().catch((err: Error) => log.debug({ err: err.message }, 'heap compaction failed')) });
}
