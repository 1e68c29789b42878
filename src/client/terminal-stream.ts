/**
 * `terminal.stream()`: an attached terminal client. It gets the screen, then live output, and
 * survives drops: on a lost link it reconnects with backoff and resumes from its byte offset
 * (or gets a gap marker and a fresh screen if the agent no longer holds those bytes).
 *
 * Flow control reaches the user: with `manualAck`, credit for output is granted only as the
 * consumer acknowledges what it has written out (`ack(n)`, from stdout's write callback or
 * xterm's render callback, as VS Code's renderer acks its pty host), so a terminal that cannot
 * keep up pauses the program instead of growing memory. The count is cleared on reconnect.
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { CmdopError, ConnectionError, PermissionError, ValidationError } from '../errors.js';
import { fromWireError } from '../protocol/codes.js';
import { frameMessage, MessageReader, MSG_CONTROL, MSG_EVENT, MSG_INPUT, MSG_OUTPUT } from '../protocol/messages.js';
import type { Stream } from '../protocol/stream.js';
import { backoffDelay, doublingDelay } from '../link/backoff.js';
import type { Caller } from './caller.js';
import { toSessionInfo, type TerminalSessionInfo } from './terminal-types.js';

/** Written before a snapshot so it draws on a clean screen (reset attributes, home, clear). */
const CLEAR = new TextEncoder().encode('\x1b[0m\x1b[H\x1b[2J');
/**
 * Receive window of an attach stream: large enough to keep a pty at full speed across two hops
 * (window / round trip), and what the relay may hold for this stream at most.
 */
const ATTACH_WINDOW = 4 * 1024 * 1024;
/** Input chunks sent per message (pastes of any size are split). */
const INPUT_CHUNK = 256 * 1024;

export interface TerminalStreamOptions {
  mode?: 'operator' | 'observer';
  /** Reconnect and resume after a drop (default true). */
  autoReconnect?: boolean;
  /** With it, delays double from this (ms) up to reconnectMaxDelay; default: the fast jittered schedule agents use. */
  reconnectDelay?: number;
  reconnectMaxDelay?: number;
  /** Attempts before giving up with an error (default 0 = until closed). */
  reconnectMaxAttempts?: number;
  /** Operator's initial size, applied on attach. */
  cols?: number;
  rows?: number;
  /**
   * Grant output credit only as `ack(n)` is called for the bytes `onOutput` delivered (default
   * false: acknowledged as soon as the listeners return).
   */
  manualAck?: boolean;
  /**
   * This client's id on the session (default: a new one). A browser tab that reloads passes the id
   * it had, so the agent sees the same operator come back and releases the hold its drop left.
   */
  clientId?: string;
}

export interface Snapshot {
  data: Uint8Array;
  offset: number;
  cols: number;
  rows: number;
}

type Listener<T extends unknown[]> = (...args: T) => void;

export class TerminalStream {
  readonly mode: 'operator' | 'observer';
  readonly clientId: string;
  sessionId = '';
  /** Offset of the next output byte: everything before it has been delivered. */
  offset = 0;
  private stream: Stream | null = null;
  private closed = false;
  private exited = false;
  private readonly out: Listener<[Uint8Array]>[] = [];
  private readonly live: Listener<[Uint8Array, number]>[] = [];
  private readonly snaps: Listener<[Snapshot]>[] = [];
  private readonly gaps: Listener<[number, number]>[] = [];
  private readonly disconnects: Listener<[CmdopError]>[] = [];
  private readonly reconnects: Listener<[]>[] = [];
  private readonly errors: Listener<[CmdopError]>[] = [];
  private readonly exits: Listener<[number, string]>[] = [];
  private readonly resizes: Listener<[number, number]>[] = [];
  private attachedWaiter: ((info: TerminalSessionInfo) => void) | null = null;
  /** Stream bytes received and not yet granted back. */
  private owed = 0;
  /** Output bytes delivered to onOutput and not yet acknowledged (manualAck only). */
  private unacked = 0;

  constructor(private readonly caller: Caller, private readonly machine: string, private readonly o: TerminalStreamOptions = {}) {
    this.clientId = o.clientId ?? globalThis.crypto.randomUUID();
    this.mode = o.mode ?? 'operator';
  }

  /** Output bytes (snapshots included, preceded by a clear-screen), in order. */
  onOutput(l: Listener<[Uint8Array]>): this { this.out.push(l); return this; }
  /** Live output only (no snapshots), with the offset of its first byte: for recorders and checksums. */
  onLiveOutput(l: Listener<[Uint8Array, number]>): this { this.live.push(l); return this; }
  onSnapshot(l: Listener<[Snapshot]>): this { this.snaps.push(l); return this; }
  /** Output [from, to) was lost (the client was away longer than the scrollback holds). */
  onGap(l: Listener<[number, number]>): this { this.gaps.push(l); return this; }
  onDisconnect(l: Listener<[CmdopError]>): this { this.disconnects.push(l); return this; }
  onReconnect(l: Listener<[]>): this { this.reconnects.push(l); return this; }
  onError(l: Listener<[CmdopError]>): this { this.errors.push(l); return this; }
  onExit(l: Listener<[number, string]>): this { this.exits.push(l); return this; }
  onResize(l: Listener<[number, number]>): this { this.resizes.push(l); return this; }

  /** Attaches to a session: resolves once the agent has accepted, before the screen arrives. */
  async attach(sessionId: string): Promise<TerminalSessionInfo> {
    if (this.stream) throw new ValidationError('this stream is already attached; create another');
    this.sessionId = sessionId;
    return this.open(false);
  }

  sendInput(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.requireOperator('send input');
    for (let i = 0; i < bytes.length; i += INPUT_CHUNK) this.send(MSG_INPUT, bytes.subarray(i, i + INPUT_CHUNK));
  }

  resize(cols: number, rows: number): void {
    this.requireOperator('resize');
    this.send(MSG_CONTROL, cmdop.v1.TerminalControl.encode({ resize: { cols, rows } }).finish());
  }

  sendSignal(signal: string): void {
    this.requireOperator('send signals');
    this.send(MSG_CONTROL, cmdop.v1.TerminalControl.encode({ signal }).finish());
  }

  /**
   * Acknowledges `n` bytes of what onOutput delivered as written out (with `manualAck`). Credit
   * goes back to the agent only for acknowledged output; acking more than was delivered is clamped.
   */
  ack(n: number): void {
    if (!this.o.manualAck || n <= 0) return;
    this.unacked = Math.max(0, this.unacked - n);
    this.grant();
  }

  /** Output bytes delivered and not yet acknowledged. */
  get unacknowledged(): number {
    return this.unacked;
  }

  /** Detaches (the session lives on). */
  close(): void {
    this.closed = true;
    this.stream?.end();
  }

  private requireOperator(what: string): void {
    if (this.mode !== 'operator') throw new PermissionError(`observers cannot ${what}`, { detail: 'observer' });
  }

  private send(type: number, body: Uint8Array): void {
    if (!this.stream || this.stream.finished) throw new CmdopError('unavailable', 'terminal stream is not connected', { retryable: true });
    this.stream.write(frameMessage(type, body));
  }

  private async open(resume: boolean): Promise<TerminalSessionInfo> {
    const req = cmdop.v1.AttachRequest.encode({
      sessionId: this.sessionId,
      mode: this.mode === 'observer' ? cmdop.v1.AttachMode.OBSERVER : cmdop.v1.AttachMode.OPERATOR,
      resume,
      offset: this.offset,
      cols: resume ? 0 : this.o.cols ?? 0,
      rows: resume ? 0 : this.o.rows ?? 0,
      clientId: this.clientId,
    }).finish();
    const stream = await this.caller.open({ target: this.machine, service: 'terminal', method: 'attach', request: req, window: ATTACH_WINDOW });
    this.stream = stream;
    // A new stream has its own window: what the old one owed or held back is void.
    this.owed = 0;
    this.unacked = 0;
    stream.autoConsume = false;
    return new Promise<TerminalSessionInfo>((resolve, reject) => {
      let attached = false;
      this.attachedWaiter = (info) => {
        attached = true;
        resolve(info);
      };
      const reader = new MessageReader((type, body) => this.onMessage(type, body));
      stream.handle({
        onData: (chunk) => {
          reader.push(chunk);
          if (this.stream !== stream) return;
          this.owed += chunk.length;
          this.grant();
        },
        onEnd: () => stream.end(),
        onClose: (err) => {
          if (!attached) return reject(err ?? new CmdopError('unavailable', 'terminal stream closed before attaching'));
          this.stream = null;
          if (err && !this.closed && !this.exited && err.retryable && this.o.autoReconnect !== false) {
            this.disconnects.forEach((l) => l(err));
            void this.reconnect();
          } else if (err && !this.closed) {
            this.disconnects.forEach((l) => l(err));
          }
        },
      });
    });
  }

  /**
   * Gives back credit for what is consumed: everything received, less what the consumer has yet to
   * acknowledge (an output body is never larger than the stream bytes it came in, so this never
   * grants for output that has not been written out).
   */
  private grant(): void {
    const n = this.owed - this.unacked;
    if (n <= 0 || !this.stream) return;
    this.owed -= n;
    this.stream.consume(n);
  }

  /** Hands bytes to the onOutput listeners, counting them for manualAck. */
  private emit(bytes: Uint8Array): void {
    if (this.o.manualAck) this.unacked += bytes.length;
    for (const l of this.out) l(bytes);
  }

  private async reconnect(): Promise<void> {
    const { reconnectDelay, reconnectMaxDelay = 30_000, reconnectMaxAttempts = 0 } = this.o;
    for (let attempt = 0; !this.closed; attempt++) {
      if (reconnectMaxAttempts > 0 && attempt >= reconnectMaxAttempts) {
        this.errors.forEach((l) => l(new ConnectionError(`gave up resuming the terminal after ${attempt} attempts`, { detail: 'link_lost' })));
        return;
      }
      await new Promise((r) => setTimeout(r, reconnectDelay !== undefined ? doublingDelay(attempt, reconnectDelay, reconnectMaxDelay) : backoffDelay(attempt)));
      try {
        await this.open(true);
        this.reconnects.forEach((l) => l());
        return;
      } catch (err) {
        if (!(err instanceof CmdopError) || !err.retryable) {
          this.errors.forEach((l) => l(err instanceof CmdopError ? err : new CmdopError('internal', String(err))));
          return;
        }
      }
    }
  }

  private onMessage(type: number, body: Uint8Array): void {
    if (type === MSG_OUTPUT) {
      const at = this.offset;
      this.offset += body.length;
      for (const l of this.live) l(body, at);
      this.emit(body);
      return;
    }
    if (type !== MSG_EVENT) return;
    const ev = cmdop.v1.TerminalEvent.decode(body);
    switch (ev.kind) {
      case 'attached':
        this.attachedWaiter?.(toSessionInfo(ev.attached!.session!));
        this.attachedWaiter = null;
        return;
      case 'snapshot': {
        const s = ev.snapshot!;
        const snap = { data: s.data, offset: Number(s.offset), cols: s.cols, rows: s.rows };
        this.offset = snap.offset;
        this.snaps.forEach((l) => l(snap));
        this.emit(CLEAR);
        this.emit(snap.data);
        return;
      }
      case 'gap':
        this.gaps.forEach((l) => l(Number(ev.gap!.from), Number(ev.gap!.to)));
        return;
      case 'resized':
        this.resizes.forEach((l) => l(ev.resized!.cols, ev.resized!.rows));
        return;
      case 'exited':
        this.exited = true;
        this.exits.forEach((l) => l(ev.exited!.exitCode, ev.exited!.signal));
        return;
      case 'error':
        this.errors.forEach((l) => l(fromWireError(ev.error!)));
        return;
    }
  }
}
