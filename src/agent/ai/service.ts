/**
 * The ai service: `ai.ask` streams, behind the PIN gate, with confirm answers and cancel on the
 * same stream; and the history methods. The model client and the bash grammar load on the first
 * ask, so they cost an idle agent nothing.
 */
import { randomBytes } from 'node:crypto';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { toWireError } from '../../protocol/codes.js';
import { frameMessage, MessageReader, MSG_CONTROL, MSG_EVENT } from '../../protocol/messages.js';
import type { Stream } from '../../protocol/stream.js';
import { CmdopError, PermissionError, TimeoutError, ValidationError, asCmdopError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { decodeRequest, type ServiceRegistry } from '../../link/services.js';
import type { AgentConfig } from '../config.js';
import type { Ledger } from '../system/ledger.js';
import type { InfoCache } from '../system/info.js';
import type { FilesPolicy } from '../files/policy.js';
import { AGENT_TYPES, type AgentType } from './agents.js';
import { loadClassifier } from './classifier/grammar.js';
import { ConfirmTokens, actionHash } from './confirm.js';
import { History } from './history.js';
import type { Llm } from './llm.js';
import type { AiDeps } from './loop.js';
import { PinGate } from './pin.js';

const v1 = cmdop.v1;
const DEFAULT_ASK_TIMEOUT_MS = 600_000;

export interface AiServiceDeps {
  config: AgentConfig;
  ledger: Ledger;
  info: InfoCache;
  policy: FilesPolicy;
  log: Logger;
  /** Records an audit event (every action the loop asked to confirm, and the answer). */
  audit?: (type: string, caller: string, fields: Record<string, unknown>) => void;
}

export class AiService {
  readonly pin: PinGate;
  readonly tokens: ConfirmTokens;
  readonly history: History;
  private llm: Llm | null = null;

  constructor(private readonly d: AiServiceDeps) {
    this.pin = new PinGate(d.config.stateDir, d.config.pinVerifySec * 1000);
    this.tokens = new ConfirmTokens(d.config.aiConfirmTimeoutSec * 1000);
    this.history = new History(d.config.stateDir, d.config.aiHistoryMax);
  }

  register<C extends { log: Logger }>(r: ServiceRegistry<C>): void {
    r.stream('ai', 'ask', (stream) => void this.ask(stream));
    r.unary('ai', 'messages', v1.AiSessionRef, (req, _ctx, info) => {
      const id = this.readable(info.caller ?? '', req.sessionId);
      return v1.AiMessages.encode({ sessionId: id, messages: this.history.read(id).map((e) => ({ role: e.role, content: e.content, timeMs: e.timeMs, toolName: e.toolName ?? '' })) }).finish();
    });
    r.unary('ai', 'clear_messages', v1.AiSessionRef, (req, _ctx, info) => {
      this.history.clear(this.readable(info.caller ?? '', req.sessionId));
      return v1.Empty.encode({}).finish();
    });
    r.unary('ai', 'active_session', v1.Empty, () => v1.AiSessionRef.encode({ sessionId: this.history.active() }).finish());
  }

  /** History is the host's business: it needs the same PIN as an ask. */
  private readable(caller: string, sessionId: string): string {
    if (this.d.config.pin !== 'off' && !this.pin.isVerified(caller)) throw new PermissionError('give the machine PIN in an ask first: history needs the same PIN', { detail: 'pin_required' });
    return History.checkId(sessionId);
  }

  private async deps(): Promise<AiDeps> {
    const c = this.d.config;
    if (!this.llm) {
      const { Llm } = await import('./llm.js');
      this.llm = new Llm({ baseUrl: c.aiBaseUrl, model: c.aiModel, apiKey: process.env[c.aiApiKeyEnv] });
    }
    return {
      llm: this.llm,
      classifier: await loadClassifier(this.d.log),
      tools: { policy: this.d.policy, info: this.d.info, execMaxOutput: c.execMaxOutput },
      ledger: this.d.ledger,
      history: this.history,
      hostname: c.hostname,
      maxIterations: c.aiMaxIterations,
      confirmPolicy: c.aiConfirmPolicy as 'ask' | 'never',
    };
  }

  private async ask(stream: Stream): Promise<void> {
    const caller = stream.info.caller || 'unknown';
    const abort = new AbortController();
    const waiters = { pin: null as ((a: cmdop.v1.PinAnswer) => void) | null, confirm: null as ((a: cmdop.v1.ConfirmAnswer) => void) | null };
    const reader = new MessageReader((type, body) => {
      if (type !== MSG_CONTROL) return;
      const input = v1.AskInput.decode(body);
      if (input.cancel) abort.abort();
      else if (input.pin) waiters.pin?.(input.pin as cmdop.v1.PinAnswer);
      else if (input.confirm) waiters.confirm?.(input.confirm as cmdop.v1.ConfirmAnswer);
    });
    stream.handle({
      onData: (c) => {
        try {
          reader.push(c);
        } catch {
          abort.abort();
        }
      },
      onClose: () => abort.abort(), // the client went away: stop the model and kill running tools
    });
    const send = (frame: cmdop.v1.IAskFrame) => stream.write(frameMessage(MSG_EVENT, v1.AskFrame.encode(frame).finish()));
    const waitFor = <T>(slot: 'pin' | 'confirm', ms: number): Promise<T | null> =>
      new Promise((resolve) => {
        const done = (v: T | null) => {
          clearTimeout(t);
          abort.signal.removeEventListener('abort', onAbort);
          waiters[slot] = null;
          resolve(v);
        };
        const onAbort = () => done(null);
        const t = setTimeout(() => done(null), ms);
        abort.signal.addEventListener('abort', onAbort, { once: true });
        (waiters as Record<string, unknown>)[slot] = (v: T) => done(v);
      });
    let timer: NodeJS.Timeout | undefined;
    try {
      const req = decodeRequest(v1.AskRequest, stream);
      if (!req.prompt.trim()) throw new ValidationError('an ask needs a prompt');
      const agentType = (req.agentType || 'router') as AgentType;
      if (!AGENT_TYPES.includes(agentType)) throw new ValidationError(`agent type is one of ${AGENT_TYPES.join(', ')}`);
      const sessionId = History.checkId(req.sessionId);
      let outputSchema: Record<string, unknown> | undefined;
      if (req.outputSchema) {
        try {
          outputSchema = JSON.parse(req.outputSchema) as Record<string, unknown>;
        } catch {
          throw new ValidationError('output_schema is not JSON');
        }
      }
      const timeoutMs = req.timeoutMs || DEFAULT_ASK_TIMEOUT_MS;
      timer = setTimeout(() => abort.abort(new TimeoutError(`the ask did not finish within ${timeoutMs} ms`)), timeoutMs);
      const waitMs = this.d.config.aiConfirmTimeoutSec * 1000;
      await this.pinGate(caller, send, () => waitFor<cmdop.v1.PinAnswer>('pin', waitMs));
      this.d.ledger.checkBudget();
      const { AskRun } = await import('./loop.js');
      const run = new AskRun(await this.deps(), {
        emit: send,
        signal: abort.signal,
        confirm: async (action, reason, severity) => {
          const token = this.tokens.issue(caller, action);
          send({ confirmRequired: { token, action, reason, severity } });
          const answer = await waitFor<cmdop.v1.ConfirmAnswer>('confirm', waitMs);
          if (!answer) {
            this.tokens.drop(token);
            return false;
          }
          // The answer's token must be this one, unused, unexpired, from this session, for this exact action.
          const ok = this.tokens.use(answer.token, caller, action) === 'ok' && answer.accept;
          this.d.audit?.('ai.confirm', caller, { action, severity, accepted: ok });
          return ok;
        },
      }, { prompt: req.prompt, sessionId, agentType, ...(outputSchema ? { outputSchema } : {}) });
      const r = await run.run();
      send({ done: { text: r.text, output: r.output === undefined ? '' : JSON.stringify(r.output), usage: r.usage, sessionId } });
    } catch (err) {
      const reason = abort.signal.reason;
      const e = abort.signal.aborted && reason instanceof CmdopError ? reason : asCmdopError(err, 'ai.ask');
      if (e.code === 'internal') this.d.log.error({ err }, 'ask failed');
      if (!stream.finished) send({ error: { code: e.code, message: e.message, detail: e.detail ?? '', retryable: e.retryable, retryAfterMs: e.retryAfterMs ?? 0, error: toWireError(e) } });
    } finally {
      clearTimeout(timer);
      if (!stream.finished) stream.end();
    }
  }

  /**
   * A scheduled ask: the same loop with nobody to answer. No PIN can be typed and none is stored,
   * so a PIN-gated host refuses it; an action the classifier does not call safe runs only if its
   * exact hash was approved when the schedule was made; every other one is refused (and listed).
   */
  async askUnattended(o: { scheduleId: string; prompt: string; agentType: string; approved: readonly string[]; timeoutMs: number; signal: AbortSignal }): Promise<{ text: string; refused: string[] }> {
    if (this.d.config.pin !== 'off') throw new PermissionError('this machine has a PIN, and a scheduled ask cannot give one: set "pin": "off" on hosts that run scheduled asks', { detail: 'pin_required' });
    this.d.ledger.checkBudget();
    const caller = `schedule:${o.scheduleId}`;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    o.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => abort.abort(new TimeoutError(`the ask did not finish within ${o.timeoutMs} ms`)), o.timeoutMs);
    const refused: string[] = [];
    try {
      const { AskRun } = await import('./loop.js');
      const run = new AskRun(await this.deps(), {
        emit: () => undefined,
        signal: abort.signal,
        confirm: async (action, _reason, severity) => {
          const ok = o.approved.includes(actionHash(action));
          if (!ok) refused.push(action);
          this.d.audit?.('ai.confirm', caller, { action, severity, accepted: ok, by: ok ? 'approved at schedule creation' : 'nobody (unattended)' });
          return ok;
        },
      }, { prompt: o.prompt, sessionId: History.checkId(`schedule-${o.scheduleId}`), agentType: (AGENT_TYPES.includes(o.agentType as AgentType) ? o.agentType : 'command') as AgentType });
      const r = await run.run();
      return { text: r.text, refused };
    } catch (err) {
      const reason = abort.signal.reason;
      throw abort.signal.aborted && reason instanceof CmdopError ? reason : err;
    } finally {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
    }
  }

  private async pinGate(caller: string, send: (f: cmdop.v1.IAskFrame) => void, answer: () => Promise<cmdop.v1.PinAnswer | null>): Promise<void> {
    if (this.d.config.pin === 'off' || this.pin.isVerified(caller)) return;
    if (!this.pin.configured) throw new PermissionError('no PIN is set on this machine: run `cmdop-agent pin set` on it (or set "pin": "off" in its config)', { detail: 'pin_not_set' });
    for (;;) {
      const challengeId = randomBytes(8).toString('hex');
      send({ pinRequired: { challengeId } });
      const a = await answer();
      if (!a) throw new TimeoutError('no PIN was given', { detail: 'pin_timeout' });
      if (a.challengeId !== challengeId) {
        send({ pinDenied: { reason: 'that answer is for another challenge' } });
        continue;
      }
      const r = await this.pin.attempt(caller, a.pin);
      if (r.ok) return;
      send({ pinDenied: { reason: r.reason, retryAfterMs: r.retryAfterMs ?? 0, locked: r.locked ?? false } });
      if (r.locked) throw new PermissionError(r.reason, { detail: 'pin_locked' });
    }
  }
}
