/**
 * A scripted OpenAI-compatible chat-completions server: real HTTP on loopback, real SSE
 * streaming, real tool-call deltas. The one sanctioned stand-in (no model weights offline). Each
 * request takes the next scripted reply; every request body is recorded for assertions.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ToolCallSpec {
  name: string;
  arguments: string;
  id?: string;
}

export type Reply =
  | { kind: 'text'; text: string; usage?: boolean; chunkSize?: number }
  | { kind: 'tools'; calls: ToolCallSpec[]; text?: string; usage?: boolean; quirks?: { repeatIndex?: boolean; emptyId?: boolean } }
  /** Streams `text` slowly and never finishes (until the client goes away). */
  | { kind: 'hang'; text: string }
  | { kind: 'status'; status: number; message: string };

export interface RequestBody {
  model: string;
  messages: Array<{ role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }>;
  tools?: Array<{ function: { name: string } }>;
  response_format?: { type: string };
  stream_options?: { include_usage?: boolean };
}

export interface FakeLlm {
  url: string;
  requests: RequestBody[];
  /** Queue replies; a function sees the request it answers. */
  script(...replies: Array<Reply | ((req: RequestBody) => Reply)>): void;
  /** Resolves when the server has seen a client disconnect during a hang. */
  hungUp: Promise<void>;
  close(): Promise<void>;
}

export async function startFakeLlm(): Promise<FakeLlm> {
  const queue: Array<Reply | ((req: RequestBody) => Reply)> = [];
  const requests: RequestBody[] = [];
  let onHangUp: () => void = () => {};
  const hungUp = new Promise<void>((r) => (onHangUp = r));
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (!req.url?.endsWith('/chat/completions')) {
        res.writeHead(404).end();
        return;
      }
      const parsed = JSON.parse(body) as RequestBody;
      requests.push(parsed);
      const next = queue.shift();
      const reply: Reply = !next ? { kind: 'status', status: 500, message: 'the fake model has no scripted reply left' } : typeof next === 'function' ? next(parsed) : next;
      serve(reply, parsed, res, onHangUp);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...r) => queue.push(...r),
    hungUp,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

function serve(reply: Reply, req: RequestBody, res: ServerResponse, onHangUp: () => void): void {
  if (reply.kind === 'status') {
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: reply.message, type: 'fake' } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const promptTokens = JSON.stringify(req.messages).length >> 3;
  const usage = (completion: number) => `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion } })}\n\n`;
  if (reply.kind === 'hang') {
    res.write(chunk({ role: 'assistant', content: reply.text }));
    const t = setInterval(() => res.write(chunk({ content: '.' })), 50);
    res.on('close', () => {
      clearInterval(t);
      onHangUp();
    });
    return;
  }
  let out = chunk({ role: 'assistant', content: '' });
  if (reply.kind === 'text') {
    const size = reply.chunkSize ?? 4;
    for (let i = 0; i < reply.text.length; i += size) out += chunk({ content: reply.text.slice(i, i + size) });
    out += chunk({}, 'stop');
    if (reply.usage !== false) out += usage(Math.ceil(reply.text.length / 4));
  } else {
    if (reply.text) out += chunk({ content: reply.text });
    reply.calls.forEach((c, i) => {
      const index = reply.quirks?.repeatIndex ? 0 : i;
      const id = reply.quirks?.emptyId ? '' : (c.id ?? `call_${i}_${Math.random().toString(36).slice(2, 8)}`);
      out += chunk({ tool_calls: [{ index, id, type: 'function', function: { name: c.name, arguments: '' } }] });
      // Arguments arrive in pieces, as real servers send them.
      for (let j = 0; j < c.arguments.length; j += 7) out += chunk({ tool_calls: [{ index, function: { arguments: c.arguments.slice(j, j + 7) } }] });
    });
    out += chunk({}, 'tool_calls');
    if (reply.usage !== false) out += usage(20);
  }
  out += 'data: [DONE]\n\n';
  res.end(out);
}
