/**
 * The session's screen as a headless terminal emulator (@xterm/headless + serialize addon), fed
 * every output byte, so that a client attaching later gets the exact screen (vim, less, top), not
 * a garbled tail. Its answers to terminal queries are dropped: only a real client answers the
 * program, and a snapshot never holds queries, so attaching never makes the shell read replies
 * twice. The emulator parses asynchronously; `backlog` says how far behind it is, and the session
 * pauses the pty while it is too far behind (xterm drops data past its own limit).
 */
import xterm from '@xterm/headless';
import serialize from '@xterm/addon-serialize';

/** Scrollback lines kept by the emulator and sent with a snapshot. */
export const SNAPSHOT_SCROLLBACK_LINES = 1000;

export interface ScreenSnapshot {
  /** Bytes that redraw the screen exactly on a terminal of cols x rows. */
  data: Uint8Array;
  /** Output offset the snapshot reflects: live output continues from here. */
  offset: number;
  cols: number;
  rows: number;
}

const encoder = new TextEncoder();

export class Screen {
  private readonly term: InstanceType<typeof xterm.Terminal>;
  private readonly ser: InstanceType<typeof serialize.SerializeAddon>;
  private written = 0;
  private parsed = 0;
  private readonly lengths: number[] = [];
  private lengthsHead = 0;
  /** Called once the backlog drops below the low watermark after having been high. */
  onDrained: (() => void) | null = null;
  private readonly onParsed = () => {
    this.parsed += this.lengths[this.lengthsHead++]!;
    if (this.lengthsHead > 1024) {
      this.lengths.splice(0, this.lengthsHead);
      this.lengthsHead = 0;
    }
    if (this.onDrained && this.backlog <= SCREEN_LOW_WATER) {
      const cb = this.onDrained;
      this.onDrained = null;
      cb();
    }
  };

  constructor(cols: number, rows: number, startOffset = 0) {
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: SNAPSHOT_SCROLLBACK_LINES });
    this.ser = new serialize.SerializeAddon();
    this.term.loadAddon(this.ser);
    this.written = this.parsed = startOffset;
  }

  /** Bytes written but not yet parsed. */
  get backlog(): number {
    return this.written - this.parsed;
  }

  write(chunk: Uint8Array): void {
    this.written += chunk.length;
    this.lengths.push(chunk.length);
    this.term.write(chunk, this.onParsed);
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  /** The screen once everything written so far is parsed. */
  snapshot(): Promise<ScreenSnapshot> {
    return new Promise((resolve) => {
      this.lengths.push(0);
      this.term.write(new Uint8Array(0), () => {
        this.onParsed();
        resolve({ data: encoder.encode(this.ser.serialize({ scrollback: SNAPSHOT_SCROLLBACK_LINES })), offset: this.parsed, cols: this.term.cols, rows: this.term.rows });
      });
    });
  }

  /** Plain text of the visible screen, one string per row (tests and diagnostics). */
  text(): string[] {
    const b = this.term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < this.term.rows; y++) out.push(b.getLine(b.viewportY + y)?.translateToString(true) ?? '');
    return out;
  }

  dispose(): void {
    this.term.dispose();
  }
}

/** Pause the pty when the emulator is this far behind, resume below the low watermark. */
export const SCREEN_HIGH_WATER = 4 * 1024 * 1024;
export const SCREEN_LOW_WATER = 1024 * 1024;
