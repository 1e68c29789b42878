/**
 * terminal.attach: one client on one session, over one stream. The client first gets the screen
 * (a snapshot) or, when resuming, the bytes it missed; then the live output. Operators send
 * input, resizes and signals; observers only watch, and anything else they send is refused.
 *
 * Backpressure: an operator whose window is full pauses the pty until it drains (it sees every
 * byte). An observer that falls more than OBSERVER_MAX_LAG behind is skipped ahead: once it
 * drains it gets a gap marker and a fresh snapshot, so a stalled observer can neither slow the
 * operator nor grow the agent's memory.
 */
import { decodeRequest } from '../../link/services.js';
import { randomUUID } from 'node:crypto';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { PermissionError, ValidationError, asCmdopError, type CmdopError } from '../../errors.js';
import { toWireError } from '../../protocol/codes.js';
import { frameMessage, MessageReader, MSG_CONTROL, MSG_EVENT, MSG_INPUT, MSG_OUTPUT } from '../../protocol/messages.js';
import type { Stream } from '../../protocol/stream.js';
import type { Logger } from '../../log.js';
import type { Role, SessionClient, TerminalSession } from './session.js';
import type { Sessions } from './sessions.js';

/**
 * An operator with more than this queued beyond its window pauses the pty until its queue drains
 * (VS Code-style watermark: some slack keeps the pty busy while credit is in flight).
 */
export const OPERATOR_HIGH_WATER = 256 * 1024;
/** An observer this far behind is skipped ahead to a fresh snapshot. */
export const OBSERVER_MAX_LAG = 1024 * 1024;
/**
 * When an operator's link drops (not a clean detach), the session holds its output this long for
 * the operator to come back and resume, as TCP would hold a stalled ssh: the output is then
 * lossless across a relay restart instead of overflowing the scrollback.
 */
export const RESUME_HOLD_MS = 30_000;
/** Snapshot attempts when output outruns the scrollback while the snapshot is taken. */
const SNAPSHOT_TRIES = 5;

const Event = cmdop.v1.TerminalEvent;

class Attachment implements SessionClient {
  readonly sinceMs = Date.now();
  private state: 'syncing' | 'live' | 'lagging' = 'syncing';
  /** Offset of the next output byte this client will get. */
  private offset = 0;

  constructor(readonly id: string, readonly role: Role, private readonly session: TerminalSession, private readonly stream: Stream, private readonly log: Logger) {}

  output(chunk: Uint8Array, at: number): void {
    if (this.state !== 'live') return;
    // Bytes this client already got (its catch-up came from the ring) are skipped.
    const end = at + chunk.length;
    if (end <= this.offset) return;
    if (at < this.offset) chunk = chunk.subarray(this.offset - at);
    this.stream.write(frameMessage(MSG_OUTPUT, chunk));
    this.offset = end;
    if (this.stream.writableLength === 0) return;
    if (this.role === 'operator') {
      if (this.stream.writableLength > OPERATOR_HIGH_WATER) this.session.pause(this.id);
    }
    else if (this.stream.writableLength > OBSERVER_MAX_LAG) this.state = 'lagging';
  }

  event(ev: cmdop.v1.ITerminalEvent): void {
    if (!this.stream.finished) this.stream.write(frameMessage(MSG_EVENT, Event.encode(ev).finish()));
  }

  drained(): void {
    if (this.role === 'operator') this.session.resume(this.id);
    else if (this.state === 'lagging') void this.sync(this.offset, false);
  }

  refuse(err: CmdopError): void {
    this.event({ error: toWireError(err) });
  }

  /** Brings the client to live: missed bytes from `from` if still held, else gap + snapshot. */
  async sync(from: number | null, resume: boolean): Promise<void> {
    this.state = 'syncing';
    if (resume && from !== null) {
      const missed = this.session.ring.since(from);
      if (missed) return this.goLive(from, missed);
    }
    for (let i = 0; i < SNAPSHOT_TRIES; i++) {
      const snap = await this.session.screen.snapshot();
      if (this.stream.finished) return;
      const tail = this.session.ring.since(snap.offset);
      if (!tail) continue; // output ran past the scrollback while the snapshot was taken
      if (from !== null && from < snap.offset) this.event({ gap: { from, to: snap.offset } });
      this.event({ snapshot: { data: snap.data, offset: snap.offset, cols: snap.cols, rows: snap.rows } });
      return this.goLive(snap.offset, tail);
    }
    this.stream.abort(new ValidationError('output too fast to take a snapshot; try again'));
  }

  private goLive(from: number, missed: Uint8Array): void {
    // Synchronous from here to `live`: no pty output can slip between the catch-up and the stream.
    this.offset = from;
    this.state = 'live';
    if (missed.length) this.output(missed, from);
  }
}

export function handleAttach(stream: Stream, ctx: { log: Logger; sessions: Sessions }): void {
  const req = decodeRequest(cmdop.v1.AttachRequest, stream);
  const session = ctx.sessions.get(req.sessionId);
  const role: Role = req.mode === cmdop.v1.AttachMode.OBSERVER ? 'observer' : 'operator';
  // The relay let an observe-only key through to attach; only `terminal` may attach as operator.
  const caps = stream.info.caps;
  if (role === 'operator' && caps && !caps.includes('terminal')) throw new PermissionError('this key may only observe terminals (it lacks the terminal grant); attach as observer', { detail: 'missing_grant' });
  const a = new Attachment(req.clientId || randomUUID(), role, session, stream, ctx.log);
  if (role === 'operator' && req.cols && req.rows) session.resize(req.cols, req.rows);

  // Credit for input is granted once the pty has taken it, so a program that does not read its
  // input stalls only this stream (see TerminalSession.write).
  let writes = 0;
  let owed = 0;
  const settle = () => {
    if (--writes === 0 && owed > 0) {
      stream.consume(owed);
      owed = 0;
    }
  };
  const reader = new MessageReader((type, body) => {
    try {
      if (role !== 'operator') throw new PermissionError('observers cannot send input, resize or signal', { detail: 'observer' });
      if (type === MSG_INPUT) {
        writes++;
        return session.write(body, settle);
      }
      if (type !== MSG_CONTROL) throw new ValidationError(`unknown message type ${type}`);
      const c = cmdop.v1.TerminalControl.decode(body);
      if (c.kind === 'resize') session.resize(c.resize!.cols, c.resize!.rows);
      else if (c.kind === 'signal') session.signal(c.signal!);
      else throw new ValidationError('empty terminal control message');
    } catch (err) {
      a.refuse(asCmdopError(err, 'handling terminal input'));
    }
  });
  const hold = `hold:${a.id}`;
  session.holds.release(hold); // a returning operator releases the hold its drop put on the session
  let offExit = () => undefined as unknown;
  let left = false;
  const leave = (err?: CmdopError | null) => {
    if (left) return;
    left = true;
    offExit();
    session.detach(a);
    // Only a lost link holds output; a client that aborts or breaks the protocol does not.
    if (err?.code === 'unavailable' && role === 'operator' && !session.exit) session.holds.hold(hold, RESUME_HOLD_MS);
  };
  stream.autoConsume = false;
  stream.handle({
    onData: (chunk) => {
      writes++;
      try {
        reader.push(chunk);
      } catch (err) {
        stream.abort(asCmdopError(err, 'reading terminal input'));
      }
      owed += chunk.length;
      settle();
    },
    onDrain: () => a.drained(),
    onEnd: () => {
      leave();
      stream.end();
    },
    onClose: (err) => leave(err),
  });
  session.attach(a);
  a.event({ attached: { session: session.info(), clientId: a.id, role } });
  offExit = session.onExit(() => {
    a.event({ exited: { exitCode: session.exit!.code, signal: session.exit!.signal } });
    leave();
    stream.end();
  });
  void a.sync(req.resume ? Number(req.offset) : null, req.resume).catch((err) => stream.abort(asCmdopError(err, 'attaching')));
}
