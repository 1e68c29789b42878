/**
 * A TCP socket's reads straight into buffers with room for a data frame's header in front
 * (Node's `onread` option; protocol/headroom.ts): a tunnel's bytes then go from the socket to the
 * link with no copy in between, and with one allocation per read instead of two.
 *
 * A buffer is handed on only when a read fills at least half of it. A smaller read is copied
 * into a buffer of its own size and the read buffer is used again, so a stream of small reads
 * (a database's replies) never holds 64 KiB per message in the link's queues.
 */
import { FRAME_HEADROOM, headroomPrefix, reserveHeadroom } from '../protocol/headroom.js';

/** One read's buffer (Node's own default read size). */
export const READ_BYTES = 64 * 1024;

const fresh = () => reserveHeadroom(Buffer.allocUnsafe(FRAME_HEADROOM + READ_BYTES), FRAME_HEADROOM);

export class HeadroomReads {
  private buf = fresh();
  private sink: ((chunk: Uint8Array) => boolean) | null = null;
  /** Reads before attach() (none when it is called as the socket is made, as pipe() does). */
  private early: Uint8Array[] = [];

  /** Pass as `onread` to `net.connect`. Returning false from the sink pauses the socket (resume() it). */
  readonly onread = {
    buffer: (): Uint8Array => this.buf,
    callback: (n: number): boolean => {
      let chunk: Uint8Array;
      if (n >= READ_BYTES / 2) {
        chunk = headroomPrefix(this.buf, n);
        this.buf = fresh();
      } else chunk = Buffer.from(this.buf.subarray(0, n));
      if (this.sink) return this.sink(chunk);
      this.early.push(chunk);
      return true;
    },
  };

  /** Where each read goes; false means "pause the socket". */
  attach(sink: (chunk: Uint8Array) => boolean): boolean {
    this.sink = sink;
    let flowing = true;
    for (const chunk of this.early) flowing = sink(chunk);
    this.early = [];
    return flowing;
  }
}
