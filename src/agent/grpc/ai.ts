/**
 * The AI agent for the official SDK: RunAgent, RunAgentStream, CancelAgent and Extract, on our
 * ask stream. The PIN comes from the request's options (`options: { pin }`): that RPC has no side
 * channel, and each call runs on its own link, so a PIN verifies that call only. A wrong PIN
 * counts toward the lockout as anywhere. A confirm is never granted here (nobody can be asked):
 * the action is refused, and the answer says so.
 */
import { randomUUID } from 'node:crypto';
import type { terminal } from './gen/terminal.js';
import type { AgentType, AskFrame, AskStream } from '../../client/ask.js';
import { PermissionError, UnavailableError, ValidationError } from '../../errors.js';
import type { GrpcCtx } from './context.js';

const AGENT_TYPES: AgentType[] = ['chat', 'terminal', 'command', 'router', 'planner'];
/** terminal.AgentEventType */
const EV = { TOKEN: 0, TOOL_START: 1, TOOL_END: 2, ERROR: 4 } as const;

export interface AskSpec {
  prompt: string;
  requestId: string;
  agentType: AgentType;
  outputSchema?: Record<string, unknown>;
  timeoutMs?: number;
  pin?: string;
}

export type Emit = (type: number, payload: string) => void;

function parseSchema(text: string): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ValidationError('outputSchema is not a JSON Schema object');
}

export function askSpec(req: terminal.RunAgentRequest): AskSpec {
  const type = AGENT_TYPES[req.agentType];
  if (!type) throw new ValidationError(`unknown agent type ${req.agentType}`);
  const schema = parseSchema(req.outputSchema);
  const pin = req.options?.pin;
  return {
    prompt: req.prompt,
    requestId: req.requestId || randomUUID(),
    agentType: type,
    ...(schema ? { outputSchema: schema } : {}),
    ...(req.timeoutSeconds > 0 ? { timeoutMs: req.timeoutSeconds * 1000 } : {}),
    ...(pin ? { pin } : {}),
  };
}

export class AiBridge {
  private readonly running = new Map<string, AskStream>();

  constructor(private readonly ctx: GrpcCtx) {}

  /** Runs one ask to its end on a fresh link; `emit` sees its events as the SDK's stream events. */
  run(spec: AskSpec, emit: Emit = () => {}, signal?: AbortSignal): Promise<terminal.IRunAgentResponse> {
    const started = Date.now();
    return this.ctx.once(async (c) => {
      const ask = c.machines.ask('', spec.prompt, { agentType: spec.agentType, ...(spec.outputSchema ? { outputSchema: spec.outputSchema } : {}), ...(spec.timeoutMs ? { timeout: spec.timeoutMs } : {}) });
      this.running.set(spec.requestId, ask);
      const onAbort = () => void ask.cancel();
      signal?.addEventListener('abort', onAbort);
      const tools = new Map<string, number>();
      const toolResults: terminal.IAgentToolResult[] = [];
      try {
        for await (const f of ask) {
          const done = await this.step(f, ask, spec, emit, tools, toolResults);
          if (done) {
            return {
              requestId: spec.requestId,
              success: true,
              text: done.text,
              toolResults,
              usage: { promptTokens: done.usage.promptTokens, completionTokens: done.usage.completionTokens, totalTokens: done.usage.promptTokens + done.usage.completionTokens },
              durationMs: Date.now() - started,
              outputJson: done.output !== undefined ? JSON.stringify(done.output) : '',
            };
          }
        }
        throw new UnavailableError('the ask ended without an answer (the agent went away)');
      } finally {
        signal?.removeEventListener('abort', onAbort);
        this.running.delete(spec.requestId);
      }
    });
  }

  async cancel(requestId: string): Promise<boolean> {
    const ask = this.running.get(requestId);
    if (!ask) return false;
    await ask.cancel();
    return true;
  }

  private async step(f: AskFrame, ask: AskStream, spec: AskSpec, emit: Emit, tools: Map<string, number>, results: terminal.IAgentToolResult[]): Promise<Extract<AskFrame, { type: 'done' }> | null> {
    switch (f.type) {
      case 'event': {
        const p = f.payload;
        if (p.delta) emit(EV.TOKEN, p.delta);
        if (p.toolCall) {
          tools.set(p.toolCall.id, Date.now());
          emit(EV.TOOL_START, JSON.stringify({ name: p.toolCall.name, arguments: p.toolCall.arguments }));
        }
        if (p.toolResult) {
          const r = p.toolResult;
          results.push({ toolName: r.name, toolCallId: r.id, success: !r.error && !r.refused, result: r.output, error: r.refused ? 'refused' : r.error ? r.output : '', durationMs: Date.now() - (tools.get(r.id) ?? Date.now()) });
          emit(EV.TOOL_END, JSON.stringify({ name: r.name, output: r.output, exitCode: r.exitCode, refused: r.refused }));
        }
        return null;
      }
      case 'pin_required':
        if (spec.pin === undefined) {
          await ask.cancel();
          throw new PermissionError('this machine asks for its PIN: pass it as options.pin (RunAgent has no other field for it)', { detail: 'pin_required' });
        }
        await ask.pin(f.challengeId, spec.pin);
        return null;
      case 'pin_denied':
        if (f.locked) return null; // the error frame that follows says so
        await ask.cancel();
        throw new PermissionError(`PIN rejected: ${f.reason}`, { detail: 'pin_denied', ...(f.retryAfterMs ? { retryAfterMs: f.retryAfterMs } : {}) });
      case 'confirm_required':
        await ask.confirm(f.token, false);
        emit(EV.ERROR, `refused "${f.action}" (${f.reason}): calls through the gRPC endpoint cannot confirm an action; run it with \`cmdop ask\`, where a person can`);
        return null;
      case 'done':
        return f;
      case 'error':
        throw f.error;
    }
  }
}

export function aiHandlers(ai: AiBridge) {
  return {
    RunAgent: (req: terminal.RunAgentRequest) => ai.run(askSpec(req)),

    async CancelAgent(req: terminal.CancelAgentRequest): Promise<terminal.ICancelAgentResponse> {
      if (await ai.cancel(req.requestId)) return { success: true };
      return { success: false, error: `no running agent request "${req.requestId}"` };
    },

    /** Extract has no options map, so no PIN: on a machine that asks for one, use agent.extract(). */
    async Extract(req: terminal.ExtractRequest): Promise<terminal.IExtractResponse> {
      const schema = parseSchema(req.jsonSchema);
      if (!schema) throw new ValidationError('Extract needs a jsonSchema');
      const timeout = req.options?.timeoutSeconds ?? 0;
      try {
        const r = await ai.run({ prompt: req.prompt, requestId: randomUUID(), agentType: 'chat', outputSchema: schema, ...(timeout > 0 ? { timeoutMs: timeout * 1000 } : {}) });
        return { success: true, resultJson: r.outputJson ?? '', reasoning: r.text ?? '', metrics: { durationMs: Number(r.durationMs), tokens: r.usage ?? null } };
      } catch (err) {
        if (err instanceof PermissionError && err.detail === 'pin_required') {
          throw new PermissionError('this machine asks for its PIN, and Extract has no field for it: use agent.extract(prompt, schema, { options: { pin } })', { detail: 'pin_required' });
        }
        throw err;
      }
    },
  };
}

export { EV as AGENT_EVENT };
