/**
 * The session's screen as a headless terminal emulator (@xterm/headless + serialize addon), fed
 * every output byte, so that a client attaching later gets the exact screen (vim, less, top), not
 * a garbled tail. Its answers to terminal queries are dropped: only a real client answers the
 * program, and a snapshot never holds queries, so attaching never makes the shell read replies
 * twice. The emulator parses asynchronously; `backlog` says how far behind it is, and the session
 * pauses the pty while it is too far behind (xterm drops data past its own limit).
 *
 * Floods of plain text are fast-forwarded (see fast-forward.ts): what is pending is trimmed to its
 * last screenful-plus-scrollback of lines as it arrives, and while the flood goes on the emulator
 * is not fed at all, since a snapshot (which feeds everything first) is the only reader. Parsing
 * a `cat` of 1 GiB thus costs a few thousand lines, not 1 GiB through the emulator.
 */
import { createRequire } from 'node:module';
import type * as XtermHeadless from '@xterm/headless';
import type * as XtermSerialize from '@xterm/addon-serialize';
import { dropFront, plainTextCutParts } from './fast-forward.js';

/** Output is handed to the emulator in batches at most this far apart (nothing waits on it but snapshots). */
const SCREEN_BATCH_MS = 20;
/** Pending output is trimmed (fast-forwarded) each time this much more has arrived. */
const TRIM_EVERY = 256 * 1024;
/** At least this much output per batch interval, with the last trim a success, is a flood: feeding waits. */
const FLOOD_BYTES = 64 * 1024;
/**
 * Less than FLOOD_BYTES per interval is interactive output (echo, redraws): feeding waits for an
 * interval with no output, or at most this long. Feeding the emulator costs the event loop a
 * fraction of a millisecond each time, and a keystroke whose echo arrives then waits for it.
 */
const TRICKLE_MAX_DELAY_MS = 500;
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

/** The parts of xterm's core that say whether fast-forward holds. */
interface XtermCore {
  buffer?: { scrollTop: number; scrollBottom: number };
  coreService?: { decPrivateModes?: { origin?: boolean } };
  _inputHandler?: { _parser?: { currentState: number }; _utf8Decoder?: { interim?: Uint8Array } };
}

/** The emulator is loaded with the first session: an idle agent does not pay its memory. */
let xtermModules: { xterm: typeof XtermHeadless; serialize: typeof XtermSerialize } | undefined;
function loadXterm(): { xterm: typeof XtermHeadless; serialize: typeof XtermSerialize } {
  if (!xtermModules) {
    const require = createRequire(import.meta.url);
    xtermModules = { xterm: require('@xterm/headless') as typeof XtermHeadless, serialize: require('@xterm/addon-serialize') as typeof XtermSerialize };
  }
  return xtermModules;
}

export class Screen {
  private readonly term: XtermHeadless.Terminal;
  private readonly ser: XtermSerialize.SerializeAddon;
  private written = 0;
  private parsed = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Resizes wait behind the output that came before them. */
  private resizes: Array<{ at: number; cols: number; rows: number }> = [];
  private busy = false;
  private disposed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Bytes fast-forwarded over without parsing (plain-text floods). */
  skipped = 0;
  /** Skipped bytes not yet counted as parsed: they count with the batch that follows them. */
  private skippedPending = 0;
  private nextTrimAt = TRIM_EVERY;
  private lastTrimOk = false;
  private bytesSinceTick = 0;
  /** When the oldest output not yet handed to the emulator arrived. */
  private pendingSinceMs = 0;
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
    const { xterm, serialize } = loadXterm();
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: SNAPSHOT_SCROLLBACK_LINES });
    this.ser = new serialize.SerializeAddon();
    this.term.loadAddon(this.ser);
    this.written = this.parsed = startOffset;
  }

  /** Bytes written but not yet parsed. */
  get backlog(): number {
    return this.written - this.parsed - this.skippedPending;
  }

  write(chunk: Uint8Array): void {
    if (this.disposed) return;
    this.written += chunk.length;
    if (this.pendingBytes === 0) this.pendingSinceMs = performance.now();
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.bytesSinceTick += chunk.length;
    if (this.pendingBytes >= this.nextTrimAt) this.trim();
    this.timer ??= setTimeout(this.tick, SCREEN_BATCH_MS);
  }

  /**
   * Feeding waits while a plain-text flood goes on (trimming keeps what is pending bounded), and
   * while interactive output keeps trickling in (up to TRICKLE_MAX_DELAY_MS).
   */
  private readonly tick = (): void => {
    this.timer = undefined;
    const arrived = this.bytesSinceTick;
    this.bytesSinceTick = 0;
    const flooding = arrived >= FLOOD_BYTES && this.lastTrimOk;
    const trickling = arrived > 0 && arrived < FLOOD_BYTES && performance.now() - this.pendingSinceMs < TRICKLE_MAX_DELAY_MS;
    if (flooding || trickling) this.timer = setTimeout(this.tick, SCREEN_BATCH_MS);
    else this.flush();
  };

  /** Drops pending plain text that later lines scroll out of the screen and scrollback. */
  private trim(): void {
    this.nextTrimAt = this.pendingBytes + TRIM_EVERY;
    this.lastTrimOk = false;
    if (this.busy || this.resizes.length > 0 || !this.canFastForward()) return;
    const cut = plainTextCutParts(this.pending, this.term.rows + SNAPSHOT_SCROLLBACK_LINES + 1);
    if (cut === 0) return;
    dropFront(this.pending, cut);
    this.lastTrimOk = true;
    this.pendingBytes -= cut;
    this.skipped += cut;
    this.skippedPending += cut;
    this.nextTrimAt = this.pendingBytes + TRIM_EVERY;
  }

  /** Hands the pending output to the emulator, one batch at a time (so its state is known). */
  private readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.busy) return;
    this.applyResizes();
    if (this.pendingBytes === 0) return;
    this.trim();
    // A batch stops at the next resize, which applies once the output before it is parsed.
    const fed = this.written - this.pendingBytes;
    const limit = this.resizes.length ? this.resizes[0]!.at - fed : this.pendingBytes;
    const take: Uint8Array[] = [];
    let n = 0;
    while (n < limit) {
      const head = this.pending[0]!;
      if (n + head.length <= limit) {
        take.push(this.pending.shift()!);
        n += head.length;
      } else {
        take.push(head.subarray(0, limit - n));
        this.pending[0] = head.subarray(limit - n);
        n = limit;
      }
    }
    this.pendingBytes -= n;
    this.nextTrimAt = this.pendingBytes + TRIM_EVERY;
    const data = take.length === 1 ? take[0]! : Buffer.concat(take, n);
    this.lengths.push(this.skippedPending + n);
    this.skippedPending = 0;
    this.busy = true;
    this.term.write(data, this.afterBatch);
  };

  private readonly afterBatch = (): void => {
    this.busy = false;
    this.onParsed();
    this.flush();
  };

  /** Applies the resizes whose preceding output has all been handed over. */
  private applyResizes(): void {
    const fed = this.written - this.pendingBytes;
    while (this.resizes.length && this.resizes[0]!.at <= fed) {
      const r = this.resizes.shift()!;
      this.term.resize(r.cols, r.rows);
    }
  }

  /**
   * Fast-forward holds only with everything handed over parsed, the parser in its ground state and
   * no UTF-8 sequence half decoded, on the normal buffer with a full-screen scroll region and no
   * origin mode. (These are xterm internals; if a release renames them, this answers false and
   * every byte is parsed: slower, never wrong.)
   */
  private canFastForward(): boolean {
    const core = (this.term as unknown as { _core?: XtermCore })._core;
    const b = core?.buffer;
    const input = core?._inputHandler;
    if (!b || !input || this.term.buffer.active.type !== 'normal') return false;
    if (input._parser?.currentState !== 0 || input._utf8Decoder?.interim?.[0] !== 0) return false;
    return b.scrollTop === 0 && b.scrollBottom === this.term.rows - 1 && core.coreService?.decPrivateModes?.origin === false;
  }

  resize(cols: number, rows: number): void {
    // Output from before the resize is parsed at the old size.
    this.resizes.push({ at: this.written, cols, rows });
    this.flush();
  }

  /** The screen once everything written so far is parsed. */
  snapshot(): Promise<ScreenSnapshot> {
    this.flush();
    return new Promise((resolve) => {
      this.lengths.push(0);
      this.term.write(new Uint8Array(0), () => {
        this.onParsed();
        // Exactly the output handed over before this write is parsed; later output is in the ring.
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
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    this.term.dispose();
  }
}

/** Pause the pty when the emulator is this far behind, resume below the low watermark. */
export const SCREEN_HIGH_WATER = 4 * 1024 * 1024;
export const SCREEN_LOW_WATER = 1024 * 1024;
