/** `client.terminal`: sessions, execute, and attached streams on one machine at a time. */
import { cmdop } from '../protocol/gen/cmdop.js';
import { MessageReader, MSG_OUTPUT, MSG_RESULT } from '../protocol/messages.js';
import type { Caller } from './caller.js';
import type { MachineTarget } from './target.js';
import { TerminalStream, type TerminalStreamOptions } from './terminal-stream.js';
import { Recordings } from './recordings.js';
import { toSessionInfo, type CreateSessionOptions, type ExecuteOptions, type ExecuteResult, type TerminalSessionInfo } from './terminal-types.js';

const v1 = cmdop.v1;
const EMPTY = v1.Empty.encode({}).finish();
/** Extra time the client waits beyond an execute's own timeout (the agent reports it). */
const EXECUTE_SLACK_MS = 5000;
/** Unary input is cut into requests of this size (a frame holds 1 MiB). */
const INPUT_CHUNK = 512 * 1024;

export class Terminal {
  /** The session recordings the machine keeps. */
  readonly recordings: Recordings;

  constructor(private readonly caller: Caller, private readonly machine: MachineTarget) {
    this.recordings = new Recordings(caller, machine);
  }

  /**
   * Chooses the machine the calls go to, by hostname or `{ machineId }`.
   * @example
   * client.terminal.setMachine('web-1');
   * const { output, exitCode } = await client.terminal.execute('uptime');
   */
  setMachine(m: string | { machineId: string }): void {
    this.machine.set(m);
  }

  private target(): string {
    return this.machine.get();
  }

  private async unary(method: string, req: Uint8Array, timeoutMs?: number): Promise<Uint8Array> {
    return this.caller.unary(this.target(), 'terminal', method, req, timeoutMs);
  }

  /** Runs a command (no pty) and returns its interleaved output and exit code. */
  async execute(command: string, o: ExecuteOptions = {}): Promise<ExecuteResult> {
    const req = v1.ExecuteRequest.encode({ command, timeoutMs: o.timeout ?? 0, cwd: o.cwd ?? '', env: o.env ?? {}, shell: o.shell ?? '', maxOutput: o.maxOutput ?? 0 }).finish();
    const res = v1.ExecuteResponse.decode(await this.unary('execute', req, (o.timeout ?? 30_000) + EXECUTE_SLACK_MS));
    const r = res.result!;
    return { output: new TextDecoder().decode(res.output), exitCode: r.exitCode ?? 0, signal: r.signal ?? '', truncated: !!r.truncated };
  }

  /** Runs a command and yields output chunks as they come; `result` settles with the exit code. */
  async executeStream(command: string, o: Omit<ExecuteOptions, 'maxOutput'> = {}): Promise<AsyncIterable<Uint8Array> & { result: Promise<Omit<ExecuteResult, 'output'>> }> {
    const req = v1.ExecuteRequest.encode({ command, timeoutMs: o.timeout ?? 0, cwd: o.cwd ?? '', env: o.env ?? {}, shell: o.shell ?? '' }).finish();
    const stream = await this.caller.open({ target: this.target(), service: 'terminal', method: 'execute.stream', request: req, end: true });
    const queue: Uint8Array[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: Error | null = null;
    let settle!: (r: Omit<ExecuteResult, 'output'>) => void;
    let fail!: (e: Error) => void;
    const result = new Promise<Omit<ExecuteResult, 'output'>>((res, rej) => {
      settle = res;
      fail = rej;
    });
    result.catch(() => undefined);
    stream.autoConsume = false;
    /** Bytes received but not yet granted back: granted once the consumer has taken them. */
    let pending = 0;
    const reader = new MessageReader((type, body) => {
      if (type === MSG_OUTPUT) queue.push(body.slice());
      else if (type === MSG_RESULT) {
        const r = v1.ExecuteResult.decode(body);
        settle({ exitCode: r.exitCode, signal: r.signal, truncated: r.truncated });
      }
    });
    stream.handle({
      onData: (c) => {
        reader.push(c);
        pending += c.length;
        wake?.();
      },
      onClose: (err) => {
        finished = true;
        if (err) {
          failure = err;
          fail(err);
        }
        wake?.();
      },
    });
    const iterate = async function* () {
      for (;;) {
        while (queue.length) {
          const c = queue.shift()!;
          yield c;
        }
        // Grant credit only for what the consumer has taken: a slow consumer slows the command.
        stream.consume(pending);
        pending = 0;
        if (finished) {
          if (failure) throw failure;
          return;
        }
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    };
    return Object.assign(iterate(), { result });
  }

  async create(o: CreateSessionOptions = {}): Promise<TerminalSessionInfo> {
    const req = v1.CreateSessionRequest.encode({ shell: o.shell ?? '', args: o.args ?? [], cols: o.cols ?? 0, rows: o.rows ?? 0, cwd: o.cwd ?? '', env: o.env ?? {}, scrollbackBytes: o.scrollbackBytes ?? 0 }).finish();
    return toSessionInfo(v1.SessionInfo.decode(await this.unary('create', req)));
  }

  /** Input of any size (split into requests); for interactive use prefer `stream()`. */
  async sendInput(sessionId: string, data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    for (let i = 0; i < bytes.length || i === 0; i += INPUT_CHUNK) {
      await this.unary('input', v1.InputRequest.encode({ sessionId, data: bytes.subarray(i, i + INPUT_CHUNK) }).finish());
      if (bytes.length === 0) break;
    }
  }

  /**
   * The output still held in the session's scrollback: the last `maxBytes`, or with `fromOffset`
   * the bytes from that absolute offset on (clamped to the oldest byte kept), at most `maxBytes`.
   * `outputOffset` is how many bytes the session has printed in all.
   */
  async getHistory(sessionId: string, o: { maxBytes?: number; fromOffset?: number } = {}): Promise<{ data: Uint8Array; text: string; startOffset: number; endOffset: number; outputOffset: number; truncated: boolean }> {
    const req = v1.HistoryRequest.encode({ sessionId, maxBytes: o.maxBytes ?? 0, ...(o.fromOffset !== undefined ? { fromOffset: o.fromOffset } : {}) }).finish();
    const r = v1.HistoryResponse.decode(await this.unary('history', req));
    // An agent before from_offset sends no output_offset: its end_offset is the end of the output.
    return { data: r.data, text: new TextDecoder().decode(r.data), startOffset: Number(r.startOffset), endOffset: Number(r.endOffset), outputOffset: Number(r.outputOffset) || Number(r.endOffset), truncated: r.truncated };
  }

  async resize(sessionId: string, cols: number, rows: number): Promise<void> {
    await this.unary('resize', v1.ResizeRequest.encode({ sessionId, cols, rows }).finish());
  }

  /** Signals the foreground process group; with `jobOnly`, only if that is a job, never the shell at its prompt. */
  async sendSignal(sessionId: string, signal: string, o: { jobOnly?: boolean } = {}): Promise<void> {
    await this.unary('signal', v1.SignalRequest.encode({ sessionId, signal, jobOnly: o.jobOnly ?? false }).finish());
  }

  async close(sessionId: string): Promise<void> {
    await this.unary('close', v1.SessionRef.encode({ sessionId }).finish());
  }

  async listSessions(): Promise<TerminalSessionInfo[]> {
    return v1.ListSessionsResponse.decode(await this.unary('list', EMPTY)).sessions.map(toSessionInfo);
  }

  async getSession(sessionId: string): Promise<TerminalSessionInfo> {
    return toSessionInfo(v1.SessionInfo.decode(await this.unary('get', v1.SessionRef.encode({ sessionId }).finish())));
  }

  /** The most recently active running session (NotFoundError if there is none). */
  async getActiveSession(): Promise<TerminalSessionInfo> {
    return toSessionInfo(v1.SessionInfo.decode(await this.unary('active', EMPTY)));
  }

  /**
   * An attachable terminal client.
   * @example
   * const t = client.terminal.stream({ mode: 'observer' });
   * t.onOutput((bytes) => process.stdout.write(bytes));
   * await t.attach(sessionId);
   */
  stream(o: TerminalStreamOptions = {}): TerminalStream {
    return new TerminalStream(this.caller, this.target(), o);
  }
}

