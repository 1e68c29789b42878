/**
 * One terminal session: a real pseudo-terminal (node-pty, bytes only, no string decoding), its
 * scrollback ring, its screen, and the clients attached to it. Sessions outlive their clients:
 * having nobody attached is a normal state.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { spawnPty, type Pty } from '../../platform/pty.js';
import { signalGroup } from '../../platform/process.js';
import type { Logger } from '../../log.js';
import type { cmdop } from '../../protocol/gen/cmdop.js';
import { ValidationError } from '../../errors.js';
import { ScrollbackRing } from './ring.js';
import { Screen, SCREEN_HIGH_WATER } from './screen.js';
import { foregroundGroup, parseSignal } from './signals.js';
import { OutputBatcher } from './batcher.js';
import { PtyInput } from './input.js';
import { Holds } from './holds.js';
import type { SessionRecorder } from '../recordings/recorder.js';
import type { RecordedSession } from '../recordings/store.js';

/** Sizes a session accepts. */
export const MAX_COLS = 2000;
export const MAX_ROWS = 1000;
/** After SIGHUP on close, the pty gets this long before SIGKILL. */
const CLOSE_GRACE_MS = 2000;

export type Role = 'operator' | 'observer';

/** An attached client, as the session sees it. */
export interface SessionClient {
  readonly id: string;
  readonly role: Role;
  readonly sinceMs: number;
  /** Live output, in order; `at` is the offset of its first byte. */
  output(chunk: Uint8Array, at: number): void;
  event(ev: cmdop.v1.ITerminalEvent): void;
}

export interface SessionOptions {
  shell: string;
  args: string[];
  cols: number;
  rows: number;
  cwd: string;
  env: Record<string, string>;
  scrollbackBytes: number;
  hostname: string;
  /** How long a session with no clients counts as in its grace period. */
  graceMs: number;
  /** Starts the session's recording before its pty exists (null: not recorded; throws: refused). */
  record?: (s: RecordedSession) => SessionRecorder | null;
}

export function checkSize(cols: number, rows: number): void {
  if (!(Number.isInteger(cols) && Number.isInteger(rows) && cols >= 1 && rows >= 1 && cols <= MAX_COLS && rows <= MAX_ROWS)) {
    throw new ValidationError(`terminal size must be 1..${MAX_COLS} columns by 1..${MAX_ROWS} rows, got ${cols}x${rows}`, { detail: 'bad_size' });
  }
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([k, v]) => [v, k]));

export class TerminalSession {
  readonly id = randomUUID();
  readonly createdMs = Date.now();
  connectedMs = 0;
  lastActivityMs = Date.now();
  private lastDetachMs = 0;
  readonly ring: ScrollbackRing;
  readonly screen: Screen;
  private readonly pty: Pty;
  private readonly clients = new Map<string, SessionClient>();
  private readonly pauses = new Set<string>();
  exit: { code: number; signal: string } | null = null;
  private readonly batcher = new OutputBatcher((data, at) => {
    for (const c of this.clients.values()) c.output(data, at);
  });
  private readonly exitListeners = new Set<() => void>();
  /** Output held for operators whose link dropped, until they come back or their time runs out. */
  readonly holds = new Holds((r) => this.pause(r), (r) => this.resume(r));
  private readonly input: PtyInput | null;
  /** This session's recording, while it records. */
  readonly recorder: SessionRecorder | null;
  cols: number;
  rows: number;

  constructor(readonly opts: SessionOptions, private readonly log: Logger) {
    checkSize(opts.cols, opts.rows);
    this.cols = opts.cols;
    this.rows = opts.rows;
    this.ring = new ScrollbackRing(opts.scrollbackBytes);
    this.recorder = opts.record?.({
      id: this.id,
      cols: opts.cols,
      rows: opts.rows,
      shell: opts.shell,
      hostname: opts.hostname,
      term: opts.env.TERM ?? '',
      pause: () => this.pause('recording'),
      resume: () => this.resume('recording'),
      close: () => this.close(),
    }) ?? null;
    try {
      this.pty = spawnPty(opts.shell, opts.args, { cols: opts.cols, rows: opts.rows, cwd: opts.cwd, env: opts.env });
    } catch (err) {
      this.recorder?.finish(`the program could not start: ${(err as Error).message}`);
      throw err;
    }
    this.screen = new Screen(opts.cols, opts.rows);
    this.input = this.pty.masterFd !== null ? new PtyInput(this.pty.masterFd) : null;
    this.pty.onData((d) => this.onData(d));
    this.pty.onExit(({ exitCode, signal }) => this.handleExit(exitCode, signal));
  }

  get pid(): number {
    return this.pty.pid;
  }

  get status(): string {
    if (this.exit) return 'exited';
    if (this.clients.size > 0) return 'connected';
    if (!this.connectedMs) return 'pending';
    return Date.now() - this.lastDetachMs < this.opts.graceMs ? 'grace_period' : 'disconnected';
  }

  attach(c: SessionClient): void {
    this.recorder?.marker(`attach ${c.role} ${c.id}`);
    this.clients.set(c.id, c);
    this.connectedMs = Date.now();
  }

  detach(c: SessionClient): void {
    if (this.clients.get(c.id) !== c) return;
    this.clients.delete(c.id);
    this.recorder?.marker(`detach ${c.role} ${c.id}`);
    this.resume(c.id);
    if (this.clients.size === 0) this.lastDetachMs = Date.now();
  }

  /** Input from an operator (the role is checked by the caller); `done` runs once the pty has taken it. */
  write(data: Uint8Array, done?: () => void): void {
    if (this.exit) return done?.();
    this.lastActivityMs = Date.now();
    this.recorder?.input(data);
    if (!this.input) {
      this.pty.write(data); // no master descriptor (Windows ConPTY): the backend's own write
      return done?.();
    }
    this.input.write(data, done);
  }

  /** The last operator resize wins; every client hears of it. */
  resize(cols: number, rows: number): void {
    checkSize(cols, rows);
    if (this.exit || (cols === this.cols && rows === this.rows)) return;
    this.flushOutput(); // clients get output and events in the order they happened
    this.cols = cols;
    this.rows = rows;
    this.pty.resize(cols, rows);
    this.screen.resize(cols, rows);
    this.recorder?.resize(cols, rows);
    for (const c of this.clients.values()) c.event({ resized: { cols, rows } });
  }

  /** Sends a signal to the foreground process group (what Ctrl-C would reach). */
  signal(name: string, o: { jobOnly?: boolean } = {}): void {
    const sig = parseSignal(name);
    if (this.exit) return;
    if (o.jobOnly && !this.busy()) return; // the shell at its prompt: nothing to signal
    signalGroup(foregroundGroup(this.pty.pid), sig, () => this.pty.kill(sig));
  }

  /** True while the pty's output is paused (some reason holds). */
  get paused(): boolean {
    return this.pauses.size > 0;
  }

  /** Output pauses while any reason holds (a full operator window, a lagging screen). */
  pause(reason: string): void {
    if (this.pauses.size === 0 && !this.exit) this.pty.pause();
    this.pauses.add(reason);
  }

  resume(reason: string): void {
    if (this.pauses.delete(reason) && this.pauses.size === 0 && !this.exit) this.pty.resume();
  }

  /** Calls `listener` when the program exits (at once if it has); returns the disposer. */
  onExit(listener: () => void): () => void {
    if (this.exit) {
      listener();
      return () => undefined;
    }
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Exit listeners registered now (a leak check for tests and diagnostics). */
  get exitListenerCount(): number {
    return this.exitListeners.size;
  }

  /** Hangs up the pty; kills it if it does not go. */
  close(): void {
    if (this.exit) return;
    try {
      this.pty.kill('SIGHUP');
    } catch {
      // already gone
    }
    const t = setTimeout(() => {
      if (!this.exit) this.pty.kill('SIGKILL');
    }, CLOSE_GRACE_MS);
    t.unref();
  }

  /** With `busy`, also whether a job other than the shell holds the terminal (a /proc read or a ps). */
  info(busy = false): cmdop.v1.ISessionInfo {
    return {
      ...(busy ? { busy: this.busy() } : {}),
      id: this.id,
      status: this.status,
      hostname: this.opts.hostname,
      createdMs: this.createdMs,
      connectedMs: this.connectedMs,
      lastActivityMs: this.lastActivityMs,
      clients: [...this.clients.values()].map((c) => ({ id: c.id, role: c.role, sinceMs: c.sinceMs })),
      cols: this.cols,
      rows: this.rows,
      shell: this.opts.shell,
      pid: this.pty.pid,
      exited: !!this.exit,
      exitCode: this.exit?.code ?? 0,
      exitSignal: this.exit?.signal ?? '',
      outputOffset: this.ring.end,
    };
  }

  /** Is a job running in the foreground (not the shell at its prompt)? */
  busy(): boolean {
    if (this.exit) return false;
    const fg = foregroundGroup(this.pty.pid);
    return fg !== null && fg !== this.pty.pid;
  }

  private onData(chunk: Uint8Array): void {
    this.lastActivityMs = Date.now();
    this.ring.append(chunk);
    this.recorder?.output(chunk);
    this.screen.write(chunk);
    if (this.screen.backlog > SCREEN_HIGH_WATER && !this.pauses.has('screen')) {
      this.pause('screen');
      this.screen.onDrained = () => this.resume('screen');
    }
    this.batcher.push(chunk, this.ring.end - chunk.length);
  }

  /** Sends the output batched so far to every client. */
  flushOutput(): void {
    this.batcher.flush();
  }

  private handleExit(code: number, signal: number): void {
    this.flushOutput();
    if (this.input) this.input.closed = true;
    this.exit = { code, signal: signal ? SIGNAL_NAMES.get(signal) ?? String(signal) : '' };
    this.log.info({ session: this.id, code, signal: this.exit.signal || undefined }, 'terminal session ended');
    this.recorder?.finish(`exit ${this.exit.signal || code}`);
    this.holds.dispose();
    const listeners = [...this.exitListeners];
    this.exitListeners.clear();
    for (const l of listeners) l();
  }
}
