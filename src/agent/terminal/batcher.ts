/**
 * Paces a session's output into messages. Every message costs each hop (agent, relay, client) a
 * write, a read and a cross-process wakeup, and on a VM a wakeup is dear; the pty, though, hands
 * output over a few KiB per read. So output read in one turn of the event loop goes out as one
 * message, and while a flood is on (the last message was recent and not small) messages go out
 * at most every FLOOD_FLUSH_MS (a third of a 60 Hz frame: nobody sees it), each carrying
 * everything read meanwhile. Interactive output (an
 * echo, a redraw after a key) never counts as a flood and leaves on the next turn.
 *
 * A batch of several reads is joined into a buffer with headroom, so the message and frame
 * headers are written in front of it and the bytes are copied once on their way to the socket.
 */
import { FRAME_HEADROOM, HEADROOM_MIN, MESSAGE_HEADROOM, reserveHeadroom } from '../../protocol/headroom.js';
import { DATA_CHUNK } from '../../protocol/limits.js';

/**
 * A message carries at most this much; a full batch leaves at once. With its header it fits one
 * data frame (DATA_CHUNK), so no client ever joins a message from two frames.
 */
export const OUTPUT_BATCH_MAX = DATA_CHUNK - MESSAGE_HEADROOM;
/** Room kept in front of a joined batch for the message and frame headers (headroom.ts). */
const HEADROOM = MESSAGE_HEADROOM + FRAME_HEADROOM;
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
    if (this.bytes > 0 && this.bytes + chunk.length > OUTPUT_BATCH_MAX) this.flush();
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
    const data = this.batch.length === 1 ? this.batch[0]! : this.bytes < HEADROOM_MIN ? Buffer.concat(this.batch, this.bytes) : join(this.batch, this.bytes);
    const at = this.at;
    this.lastMs = performance.now();
    this.lastBytes = this.bytes;
    this.batch = [];
    this.bytes = 0;
    this.send(data, at);
  };
}

/** `parts` joined, with HEADROOM free bytes in front (one copy; not zero-filled: every byte is written). */
function join(parts: Uint8Array[], bytes: number): Uint8Array {
  const out = reserveHeadroom(Buffer.allocUnsafe(HEADROOM + bytes), HEADROOM);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
