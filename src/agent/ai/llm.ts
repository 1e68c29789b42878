/**
 * One streamed chat-completions call to any OpenAI-compatible server, through the official
 * `openai` client. Handles the servers' quirks: tool calls are rebuilt by `index` (some servers
 * repeat an index for a new call, or send an empty id), their arguments are parsed only once the
 * stream has ended, usage comes from `stream_options.include_usage` or is estimated (and marked
 * so), and `response_format: json_schema` is dropped once for servers that refuse it.
 */
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { AuthError, CmdopError, RateLimitError, TimeoutError, UnavailableError, ValidationError } from '../../errors.js';

export type Message = ChatCompletionMessageParam;

export interface ToolCallOut {
  id: string;
  name: string;
  /** Raw JSON text, as the model produced it. */
  arguments: string;
}

export interface ModelResult {
  text: string;
  toolCalls: ToolCallOut[];
  promptTokens: number;
  completionTokens: number;
  estimated: boolean;
}

export interface ModelCall {
  messages: Message[];
  tools?: ChatCompletionTool[];
  /** Ask for JSON that matches this schema (re-checked locally anyway). */
  schema?: { name: string; schema: Record<string, unknown> };
  signal: AbortSignal;
  onDelta?: (text: string) => void;
}

export interface LlmOptions {
  baseUrl: string;
  model: string;
  /** The key itself, read from the env var named in config; local servers need none. */
  apiKey: string | undefined;
  timeoutMs?: number;
}

export class Llm {
  private readonly client: OpenAI;
  private jsonSchemaRefused = false;

  constructor(readonly o: LlmOptions) {
    this.client = new OpenAI({ baseURL: o.baseUrl, apiKey: o.apiKey || 'not-needed', maxRetries: 0, timeout: o.timeoutMs ?? 120_000 });
  }

  get model(): string {
    return this.o.model;
  }

  async call(c: ModelCall): Promise<ModelResult> {
    try {
      return await this.stream(c, !!c.schema && !this.jsonSchemaRefused);
    } catch (err) {
      // A server that does not know json_schema answers 400: ask once more without it.
      if (c.schema && !this.jsonSchemaRefused && err instanceof OpenAI.APIError && err.status === 400) {
        this.jsonSchemaRefused = true;
        return this.stream(c, false).catch((e) => Promise.reject(this.toCmdopError(e, c.signal)));
      }
      throw this.toCmdopError(err, c.signal);
    }
  }

  private async stream(c: ModelCall, withSchema: boolean): Promise<ModelResult> {
    const stream = await this.client.chat.completions.create(
      {
        model: this.o.model,
        messages: c.messages,
        stream: true,
        stream_options: { include_usage: true },
        ...(c.tools?.length ? { tools: c.tools } : {}),
        ...(withSchema && c.schema ? { response_format: { type: 'json_schema' as const, json_schema: { name: c.schema.name, schema: c.schema.schema, strict: false } } } : {}),
      },
      { signal: c.signal },
    );
    let text = '';
    const calls = new ToolCallBuilder();
    let usage: { prompt_tokens: number; completion_tokens: number } | null = null;
    for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
      if (chunk.usage) usage = chunk.usage;
      const delta = chunk.choices?.[0]?.delta;
      if (!delta) continue;
      if (delta.content) {
        text += delta.content;
        c.onDelta?.(delta.content);
      }
      for (const tc of delta.tool_calls ?? []) calls.add(tc);
    }
    const toolCalls = calls.done();
    if (usage) return { text, toolCalls, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, estimated: false };
    return { text, toolCalls, promptTokens: estimateTokens(JSON.stringify(c.messages)), completionTokens: estimateTokens(text + toolCalls.map((t) => t.name + t.arguments).join('')), estimated: true };
  }

  private toCmdopError(err: unknown, signal: AbortSignal): CmdopError {
    if (err instanceof CmdopError) return err;
    if (signal.aborted) return new TimeoutError('the ask was cancelled');
    const where = this.o.baseUrl;
    if (err instanceof OpenAI.APIConnectionTimeoutError) return new TimeoutError(`the AI endpoint ${where} did not answer in time`);
    if (err instanceof OpenAI.APIConnectionError) return new UnavailableError(`the AI endpoint ${where} is unreachable (is the model server running? set ai.baseUrl)`, { detail: 'ai_unreachable' });
    if (err instanceof OpenAI.APIError) {
      const msg = `the AI endpoint ${where} answered ${err.status ?? 'an error'}: ${firstLine(err.message)}`;
      if (err.status === 401 || err.status === 403) return new AuthError(msg);
      if (err.status === 429) return new RateLimitError(msg);
      if (err.status === 404 || err.status === 400 || err.status === 422) return new ValidationError(msg);
      return new UnavailableError(msg);
    }
    return new UnavailableError(`the AI call failed: ${firstLine((err as Error)?.message ?? String(err))}`);
  }
}

/** Rebuilds streamed tool calls by index, tolerating repeated indexes and empty ids. */
export class ToolCallBuilder {
  private readonly calls: ToolCallOut[] = [];
  private readonly byIndex = new Map<number, ToolCallOut>();

  add(tc: { index: number; id?: string | undefined; function?: { name?: string | undefined; arguments?: string | undefined } | undefined }): void {
    let cur = this.byIndex.get(tc.index);
    // A new, different id on an index already in use is a new call (some servers reuse index 0).
    if (!cur || (tc.id && cur.id && tc.id !== cur.id)) {
      cur = { id: tc.id || '', name: '', arguments: '' };
      this.byIndex.set(tc.index, cur);
      this.calls.push(cur);
    }
    if (tc.id && !cur.id) cur.id = tc.id;
    if (tc.function?.name) cur.name += tc.function.name;
    if (tc.function?.arguments) cur.arguments += tc.function.arguments;
  }

  done(): ToolCallOut[] {
    return this.calls.map((c, i) => ({ ...c, id: c.id || `call_${i}` }));
  }
}

/** ~4 characters per token: what a server that sends no usage gets counted at. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}
