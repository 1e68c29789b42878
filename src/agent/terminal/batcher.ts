/**
 * Paces a session's output into messages. Every message costs each hop (agent, relay, client) a
 * write, a read and a cross-process wakeup, and on a VM a wakeup is dear; the pty, though, hands
 * output over a few KiB per read. So output read in one turn of the event loop goes out as one
 * message, and while a flood is on (the last message was recent and not small) messages go out
 * at most every FLOOD_FLUSH_MS (a third of a 60 Hz frame: nobody sees it), each carrying
 * everything read meanwhile. Interactive output (an
 * echo, a redraw after a key) never counts as a flood and leaves on the next turn.
 */

/** A message carries at most this much; a full batch leaves at once. */
export const OUTPUT_BATCH_MAX = 256 * 1024;
/** While flooding, output leaves at most this often. */
export const FLOOD_FLUSH_MS = 5;
/** A message at least this big, sent less than FLOOD_FLUSH_MS ago, means a flood is on. */
export const FLOOD_MIN_BYTES = 2048;

export class OutputBatcher {
  private batch: Uint8Array[] = [];
  private bytes = 0;
  private at = 0;
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastMs = -Infinity;
  private lastBytes = 0;

  constructor(private readonly send: (data: Uint8Array, at: number) => void) {}

  /** Adds output whose first byte is at offset `at`. */
  push(chunk: Uint8Array, at: number): void {
    if (this.bytes === 0) this.at = at;
    this.batch.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= OUTPUT_BATCH_MAX) return this.flush();
    if (this.immediate || this.timer) return;
    const since = performance.now() - this.lastMs;
    if (since < FLOOD_FLUSH_MS && this.lastBytes >= FLOOD_MIN_BYTES) this.timer = setTimeout(this.flush, FLOOD_FLUSH_MS - since);
    else this.immediate = setImmediate(this.flush);
  }

  /** Sends what is batched now. */
  readonly flush = (): void => {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = this.timer = undefined;
    if (this.bytes === 0) return;
    const data = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.bytes);
    const at = this.at;
    this.lastMs = performance.now();
    this.lastBytes = this.bytes;
    this.batch = [];
    this.bytes = 0;
    this.send(data, at);
  };
}
