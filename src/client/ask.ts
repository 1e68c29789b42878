/**
 * `machines.ask()`: an AskStream of typed frames from the machine's AI loop, with the side
 * channels on the same stream: pin(), confirm(), cancel(). collect() drains to the final text.
 * Nothing is approved implicitly: a confirm with no handler is answered "no".
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { frameMessage, MessageReader, MSG_CONTROL, MSG_EVENT } from '../protocol/messages.js';
import type { Stream } from '../protocol/stream.js';
import { CmdopError, errorFromCode, PermissionError, type ErrorCode, type ErrorDetail } from '../errors.js';
import { fromWireError } from '../protocol/codes.js';
import { AsyncQueue } from './async-queue.js';

const v1 = cmdop.v1;

export type AgentType = 'chat' | 'command' | 'terminal' | 'planner' | 'router';

export interface AskUsage {
  promptTokens: number;
  completionTokens: number;
  cost: number;
  estimated: boolean;
  modelCalls: number;
}

export type AskFrame =
  | { type: 'event'; payload: { delta?: string; toolCall?: { id: string; name: string; arguments: string }; toolResult?: { id: string; name: string; output: string; error: boolean; exitCode: number; refused: boolean }; agent?: string } }
  | { type: 'done'; text: string; output?: unknown; usage: AskUsage; sessionId: string }
  | { type: 'error'; code: ErrorCode; message: string; detail?: string; /** The typed error (its class, `retryable`, `retryAfterMs`). */ error: CmdopError }
  | { type: 'pin_required'; challengeId: string }
  | { type: 'pin_denied'; reason: string; retryAfterMs?: number; locked: boolean }
  | { type: 'confirm_required'; token: string; action: string; reason: string; severity: 'normal' | 'high' };

export interface AskOptions {
  sessionId?: string;
  agentType?: AgentType;
  /** A JSON Schema the final answer must satisfy; `done.output` is the parsed object. */
  outputSchema?: Record<string, unknown>;
  /** Whole-ask timeout in ms (the machine's default is 10 minutes). */
  timeout?: number;
  /** collect() answers pin_required with this (else it fails with PermissionError). */
  pin?: string;
  /** collect() asks this about each confirm_required (else every confirm is answered no). */
  onConfirm?: (c: Extract<AskFrame, { type: 'confirm_required' }>) => boolean | Promise<boolean>;
}

export interface AskResult {
  text: string;
  output?: unknown;
  usage: AskUsage;
  sessionId: string;
}

/** The ask ended without an answer or an error frame (the link or the machine went away). */
export class AgentStreamError extends CmdopError {
  constructor(code: ErrorCode, message: string, detail?: ErrorDetail) {
    super(code, message, detail ? { detail } : {});
  }
}

const CODES: ReadonlySet<string> = new Set<ErrorCode>(['auth', 'permission', 'not_found', 'conflict', 'validation', 'rate_limit', 'unavailable', 'timeout', 'too_large', 'internal', 'protocol', 'cancelled']);

/** The typed error of an error frame: the envelope's form when the agent sends it, else rebuilt from the strings (older agents). */
function frameError(e: cmdop.v1.IAskError): CmdopError {
  if (e.error) return fromWireError(e.error);
  const code = CODES.has(e.code ?? '') ? (e.code as ErrorCode) : 'internal';
  return errorFromCode(code, e.message || code, { retryable: e.retryable ?? undefined, retryAfterMs: e.retryAfterMs || undefined, detail: (e.detail || undefined) as ErrorDetail | undefined });
}

function toFrame(f: cmdop.v1.AskFrame): AskFrame | null {
  if (f.event) {
    const e = f.event;
    const payload: Extract<AskFrame, { type: 'event' }>['payload'] = {};
    if (e.delta) payload.delta = e.delta;
    if (e.agent) payload.agent = e.agent;
    if (e.toolCall) payload.toolCall = { id: e.toolCall.id, name: e.toolCall.name, arguments: e.toolCall.arguments };
    if (e.toolResult) payload.toolResult = { id: e.toolResult.id, name: e.toolResult.name, output: e.toolResult.output, error: e.toolResult.error, exitCode: e.toolResult.exitCode, refused: e.toolResult.refused };
    return { type: 'event', payload };
  }
  if (f.done) {
    const u: cmdop.v1.IUsage = f.done.usage ?? {};
    const usage = { promptTokens: Number(u.promptTokens ?? 0), completionTokens: Number(u.completionTokens ?? 0), cost: u.cost ?? 0, estimated: u.estimated ?? false, modelCalls: u.modelCalls ?? 0 };
    return { type: 'done', text: f.done.text, ...(f.done.output ? { output: JSON.parse(f.done.output) as unknown } : {}), usage, sessionId: f.done.sessionId };
  }
  if (f.error) {
    const error = frameError(f.error);
    return { type: 'error', code: error.code, message: error.message, ...(error.detail ? { detail: error.detail } : {}), error };
  }
  if (f.pinRequired) return { type: 'pin_required', challengeId: f.pinRequired.challengeId };
  if (f.pinDenied) return { type: 'pin_denied', reason: f.pinDenied.reason, locked: f.pinDenied.locked, ...(f.pinDenied.retryAfterMs ? { retryAfterMs: f.pinDenied.retryAfterMs } : {}) };
  if (f.confirmRequired) {
    const c = f.confirmRequired;
    return { type: 'confirm_required', token: c.token, action: c.action, reason: c.reason, severity: c.severity === 'high' ? 'high' : 'normal' };
  }
  return null;
}

export class AskStream implements AsyncIterable<AskFrame> {
  private stream: Stream | null = null;
  private readonly queue = new AsyncQueue<AskFrame>();
  private readonly ready: Promise<void>;

  /** @internal */
  constructor(open: () => Promise<Stream>, private readonly o: AskOptions = {}) {
    this.ready = open().then(
      (s) => this.attach(s),
      (err: CmdopError) => this.queue.end(err),
    );
  }

  private attach(s: Stream): void {
    this.stream = s;
    const reader = new MessageReader((type, body) => {
      if (type !== MSG_EVENT) return;
      const f = toFrame(v1.AskFrame.decode(body));
      if (f) this.queue.push(f);
    });
    s.handle({
      onData: (c) => reader.push(c),
      onClose: (err) => this.queue.end(err),
    });
  }

  private async send(input: cmdop.v1.IAskInput): Promise<void> {
    await this.ready;
    this.stream?.write(frameMessage(MSG_CONTROL, v1.AskInput.encode(input).finish()));
  }

  /** Answers a pin_required frame. */
  pin(challengeId: string, pin: string): Promise<void> {
    return this.send({ pin: { challengeId, pin } });
  }

  /** Answers a confirm_required frame. */
  confirm(token: string, accept: boolean): Promise<void> {
    return this.send({ confirm: { token, accept } });
  }

  /** Stops the ask: the machine stops the model and kills any running tool. */
  async cancel(): Promise<void> {
    await this.send({ cancel: true });
  }

  /** The frames, up to and including `done` or `error`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<AskFrame> {
    for await (const f of this.queue) {
      yield f;
      if (f.type === 'done' || f.type === 'error') return;
    }
  }

  /** Drains the stream to the final result; an error frame throws its typed error (TimeoutError, RateLimitError, ...). */
  async result(): Promise<AskResult> {
    for await (const f of this) {
      if (f.type === 'pin_required') {
        if (this.o.pin === undefined) {
          await this.cancel();
          throw new PermissionError('the machine asks for its PIN: pass { pin } or answer pin_required', { detail: 'pin_required' });
        }
        await this.pin(f.challengeId, this.o.pin);
      } else if (f.type === 'pin_denied' && !f.locked && this.o.pin !== undefined) {
        await this.cancel(); // the same PIN would fail again
        throw new PermissionError(`PIN rejected: ${f.reason}`, { detail: 'pin_denied', ...(f.retryAfterMs ? { retryAfterMs: f.retryAfterMs } : {}) });
      } else if (f.type === 'confirm_required') {
        await this.confirm(f.token, this.o.onConfirm ? await this.o.onConfirm(f) : false);
      } else if (f.type === 'done') {
        return { text: f.text, ...(f.output !== undefined ? { output: f.output } : {}), usage: f.usage, sessionId: f.sessionId };
      } else if (f.type === 'error') {
        throw f.error;
      }
    }
    throw new AgentStreamError('unavailable', 'the ask ended without an answer');
  }

  /** Drains the stream to the final text. */
  async collect(): Promise<string> {
    return (await this.result()).text;
  }
}

/** The request bytes of an ask. */
export function askRequest(prompt: string, o: AskOptions): Uint8Array {
  return v1.AskRequest.encode({
    prompt,
    sessionId: o.sessionId ?? '',
    agentType: o.agentType ?? '',
    outputSchema: o.outputSchema ? JSON.stringify(o.outputSchema) : '',
    timeoutMs: o.timeout ?? 0,
  }).finish();
}
