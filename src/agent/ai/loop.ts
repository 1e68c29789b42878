/**
 * The ask loop: model call, tool calls (each classified, confirmed when not known-safe, run),
 * results back to the model, until it answers or the iteration bound is hit. The loop itself
 * holds no I/O: it talks to the model through Llm, to the client through AskIo, and to the host
 * through the tools.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { CmdopError, TooLargeError, ValidationError, asCmdopError } from '../../errors.js';
import type { cmdop } from '../../protocol/gen/cmdop.js';
import type { Ledger } from '../system/ledger.js';
import { agentSpec, PLAN_SCHEMA, PLAN_SYSTEM, ROUTER_SCHEMA, ROUTER_SYSTEM, type AgentSpec, type AgentType } from './agents.js';
import type { Classifier } from './classifier/classify.js';
import type { History, HistoryEntry } from './history.js';
import type { Llm, Message, ModelResult, ToolCallOut } from './llm.js';
import { clipForModel, parseArgs, runTool, TOOL_DEFS, type ToolCtx, type ToolName, type ToolOutput } from './tools.js';

export interface AskIo {
  emit(frame: cmdop.v1.IAskFrame): void;
  /** Shows the action and waits for the client; false on reject, timeout or cancel. */
  confirm(action: string, reason: string, severity: 'normal' | 'high'): Promise<boolean>;
  signal: AbortSignal;
}

export interface AiDeps {
  llm: Llm;
  classifier: Classifier;
  tools: Omit<ToolCtx, 'signal'>;
  ledger: Ledger;
  history: History;
  hostname: string;
  maxIterations: number;
  confirmPolicy: 'ask' | 'never';
}

export interface AskRequest {
  prompt: string;
  sessionId: string;
  agentType: AgentType;
  outputSchema?: Record<string, unknown>;
}

export interface AskResult {
  text: string;
  output?: unknown;
  usage: cmdop.v1.IUsage;
}

/** Repair turns allowed when the final answer does not match the output schema. */
export const SCHEMA_REPAIRS = 2;

export function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  try {
    return new Ajv({ strict: false, allErrors: true }).compile(schema);
  } catch (err) {
    throw new ValidationError(`output_schema is not a valid JSON Schema: ${(err as Error).message.split('\n')[0]}`);
  }
}

export class AskRun {
  private readonly usage = { promptTokens: 0, completionTokens: 0, cost: 0, estimated: false, modelCalls: 0 };
  private readonly entries: HistoryEntry[] = [];
  private toolCalls = 0;

  constructor(private readonly d: AiDeps, private readonly io: AskIo, private readonly req: AskRequest) {}

  async run(): Promise<AskResult> {
    const validate = this.req.outputSchema ? compileSchema(this.req.outputSchema) : null;
    const past: Message[] = this.d.history
      .read(this.req.sessionId)
      .filter((e) => e.role !== 'tool')
      .map((e) => ({ role: e.role as 'user' | 'assistant', content: e.content }));
    this.entries.push({ role: 'user', content: this.req.prompt, timeMs: Date.now() });
    let type = this.req.agentType;
    if (type === 'router') {
      type = await this.route(past);
      this.io.emit({ event: { agent: type } });
    }
    let text: string;
    if (type === 'planner') text = await this.plan(past, validate);
    else {
      const spec = agentSpec(type, this.d.hostname);
      text = await this.loop(spec, [{ role: 'system', content: spec.system }, ...past, { role: 'user', content: this.req.prompt }], validate);
    }
    this.entries.push({ role: 'assistant', content: text, timeMs: Date.now() });
    this.d.history.append(this.req.sessionId, this.entries);
    const output = validate ? JSON.parse(text) : undefined;
    return { text, ...(validate ? { output } : {}), usage: this.usage };
  }

  /** Records spend; refuses once the daily budget is reached. */
  private async model(messages: Message[], tools: ToolName[], schema: { name: string; schema: Record<string, unknown> } | undefined, stream: boolean): Promise<ModelResult> {
    if (this.io.signal.aborted) throw new CmdopError('timeout', 'the ask was cancelled');
    this.d.ledger.checkBudget();
    const r = await this.d.llm.call({
      messages,
      tools: tools.map((t) => TOOL_DEFS[t]),
      ...(schema ? { schema } : {}),
      signal: this.io.signal,
      ...(stream ? { onDelta: (delta: string) => this.io.emit({ event: { delta } }) } : {}),
    });
    const entry = this.d.ledger.record({ session: this.req.sessionId, model: this.d.llm.model, promptTokens: r.promptTokens, completionTokens: r.completionTokens, ...(r.estimated ? { estimated: true } : {}) });
    this.usage.promptTokens += r.promptTokens;
    this.usage.completionTokens += r.completionTokens;
    this.usage.cost += entry.cost;
    this.usage.estimated ||= r.estimated;
    this.usage.modelCalls++;
    return r;
  }

  private async route(past: Message[]): Promise<Exclude<AgentType, 'router'>> {
    const r = await this.model([{ role: 'system', content: ROUTER_SYSTEM }, ...past.slice(-4), { role: 'user', content: this.req.prompt }], [], { name: 'route', schema: ROUTER_SCHEMA as unknown as Record<string, unknown> }, false);
    try {
      const agent = (JSON.parse(r.text) as { agent?: string }).agent;
      if (agent === 'chat' || agent === 'command' || agent === 'terminal' || agent === 'planner') return agent;
    } catch {
      // fall through
    }
    return 'chat'; // an unreadable choice gets the agent with no tools
  }

  /** The tool loop shared by every agent type. */
  private async loop(spec: AgentSpec, messages: Message[], validate: ValidateFunction | null): Promise<string> {
    const schema = this.req.outputSchema ? { name: 'answer', schema: this.req.outputSchema } : undefined;
    let repairs = 0;
    for (let i = 0; ; i++) {
      if (i >= this.d.maxIterations) throw new TooLargeError(`the ask used its ${this.d.maxIterations} model calls without finishing`, { detail: 'iteration_limit' });
      const r = await this.model(messages, spec.tools, schema, true);
      if (r.toolCalls.length === 0) {
        if (!validate) return r.text;
        const problem = checkOutput(validate, r.text);
        if (!problem) return r.text;
        if (repairs++ >= SCHEMA_REPAIRS) throw new ValidationError(`the answer did not match output_schema after ${SCHEMA_REPAIRS} repair turns: ${problem}`, { detail: 'schema_mismatch' });
        messages.push({ role: 'assistant', content: r.text }, { role: 'user', content: `Your answer does not match the required JSON Schema (${problem}). Reply with only the corrected JSON.` });
        continue;
      }
      messages.push({ role: 'assistant', content: r.text || null, tool_calls: r.toolCalls.map((t) => ({ id: t.id, type: 'function' as const, function: { name: t.name, arguments: t.arguments } })) });
      for (const call of r.toolCalls) {
        const out = await this.toolCall(spec, call);
        messages.push({ role: 'tool', tool_call_id: call.id, content: clipForModel(out.output) });
      }
    }
  }

  /** One tool call: checked, confirmed if not known-safe, run; every outcome goes back as a result. */
  private async toolCall(spec: AgentSpec, call: ToolCallOut): Promise<ToolOutput & { refused?: boolean }> {
    this.io.emit({ event: { toolCall: { id: call.id, name: call.name, arguments: call.arguments } } });
    const out = await this.decideAndRun(spec, call).catch((err): ToolOutput => ({ output: asCmdopError(err, `tool ${call.name}`).message, error: true }));
    this.io.emit({ event: { toolResult: { id: call.id, name: call.name, output: out.output, error: out.error, exitCode: out.exitCode ?? 0, refused: (out as { refused?: boolean }).refused ?? false } } });
    this.entries.push({ role: 'tool', toolName: call.name, content: out.output, timeMs: Date.now() });
    return out;
  }

  private async decideAndRun(spec: AgentSpec, call: ToolCallOut): Promise<ToolOutput & { refused?: boolean }> {
    const name = call.name as ToolName;
    if (!spec.tools.includes(name)) return { output: `the tool ${call.name} is not available here`, error: true };
    if (spec.maxToolCalls !== undefined && this.toolCalls >= spec.maxToolCalls) return { output: 'this agent runs one command per ask; answer with what you have', error: true };
    this.toolCalls++;
    const args = parseArgs(name, call.arguments);
    const gate = this.gate(name, args);
    if (gate) {
      const ok = await this.approve(gate.action, gate.reason, gate.severity);
      if (!ok.approved) return { output: ok.why, error: true, refused: true };
    }
    return runTool(name, args, { ...this.d.tools, signal: this.io.signal });
  }

  /** What needs a confirm, and how it is shown. The model's own arguments never approve anything. */
  private gate(name: ToolName, args: Record<string, unknown>): { action: string; reason: string; severity: 'normal' | 'high' } | null {
    if (name === 'run_command') {
      const v = this.d.classifier.classify(String(args.command));
      return v.safe ? null : { action: String(args.command), reason: v.reasons.join('; '), severity: v.severity };
    }
    if (name === 'write_file') {
      const content = String(args.content);
      return { action: `write_file ${String(args.path)} (${Buffer.byteLength(content)} bytes):\n${content}`, reason: 'writes a file', severity: /^\/(etc|boot|usr|bin|sbin|lib)/.test(String(args.path)) ? 'high' : 'normal' };
    }
    return null;
  }

  private async approve(action: string, reason: string, severity: 'normal' | 'high'): Promise<{ approved: boolean; why: string }> {
    if (this.d.confirmPolicy === 'never') return { approved: false, why: `refused: this machine's policy runs only known-safe actions (${reason})` };
    const approved = await this.io.confirm(action, reason, severity);
    return { approved, why: approved ? '' : 'the user did not approve this action (rejected or timed out); do not retry it' };
  }

  /** planner: a plan (structured), one confirm for the whole plan by its hash, steps run verbatim, then a summary loop. */
  private async plan(past: Message[], validate: ValidateFunction | null): Promise<string> {
    const planMsgs: Message[] = [{ role: 'system', content: PLAN_SYSTEM(this.d.hostname) }, ...past, { role: 'user', content: this.req.prompt }];
    const checkPlan = compileSchema(PLAN_SCHEMA as unknown as Record<string, unknown>);
    let steps: Array<{ command: string; why?: string }> | null = null;
    for (let attempt = 0; attempt <= SCHEMA_REPAIRS && !steps; attempt++) {
      const r = await this.model(planMsgs, [], { name: 'plan', schema: PLAN_SCHEMA as unknown as Record<string, unknown> }, false);
      const problem = checkOutput(checkPlan, r.text);
      if (!problem) steps = (JSON.parse(r.text) as { steps: Array<{ command: string; why?: string }> }).steps;
      else planMsgs.push({ role: 'assistant', content: r.text }, { role: 'user', content: `That is not a valid plan (${problem}). Reply with only the JSON plan.` });
    }
    if (!steps) throw new ValidationError('the model did not produce a valid plan', { detail: 'schema_mismatch' });
    const action = steps.map((s, i) => `${i + 1}. ${s.command}`).join('\n');
    const verdicts = steps.map((s) => this.d.classifier.classify(s.command));
    const results: string[] = [];
    if (verdicts.some((v) => !v.safe)) {
      const reason = verdicts.flatMap((v, i) => (v.safe ? [] : [`step ${i + 1}: ${v.reasons.join('; ')}`])).join('\n');
      const ok = await this.approve(action, reason, verdicts.some((v) => v.severity === 'high') ? 'high' : 'normal');
      if (!ok.approved) return this.summarise(past, action, [`The plan was not run: ${ok.why}.`], validate);
    }
    for (const [i, s] of steps.entries()) {
      const id = `plan_step_${i + 1}`;
      const args = JSON.stringify({ command: s.command });
      this.io.emit({ event: { toolCall: { id, name: 'run_command', arguments: args } } });
      const out = await runTool('run_command', { command: s.command }, { ...this.d.tools, signal: this.io.signal }).catch((err): ToolOutput => ({ output: asCmdopError(err).message, error: true }));
      this.io.emit({ event: { toolResult: { id, name: 'run_command', output: out.output, error: out.error, exitCode: out.exitCode ?? 0 } } });
      this.entries.push({ role: 'tool', toolName: 'run_command', content: `$ ${s.command}\n${out.output}`, timeMs: Date.now() });
      results.push(`$ ${s.command}\n(exit ${out.exitCode ?? '?'})\n${clipForModel(out.output)}`);
    }
    return this.summarise(past, action, results, validate);
  }

  private summarise(past: Message[], plan: string, results: string[], validate: ValidateFunction | null): Promise<string> {
    const spec = agentSpec('planner', this.d.hostname);
    return this.loop(spec, [{ role: 'system', content: spec.system }, ...past, { role: 'user', content: this.req.prompt }, { role: 'user', content: `Plan:\n${plan}\n\nResults:\n${results.join('\n\n')}` }], validate);
  }
}

/** Null if `text` is JSON that satisfies the schema, else what is wrong. */
function checkOutput(validate: ValidateFunction, text: string): string | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  if (validate(v)) return null;
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join(', ');
}
