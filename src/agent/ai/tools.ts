/**
 * The AI loop's tools. Each calls into the capability that already exists (execute for
 * commands, the files operations and jail for files, the info cache), so the model gets no
 * power the SDK does not have, under the same limits. The model sees the head and tail of long
 * output; the client gets all of it.
 */
import type { ChatCompletionFunctionTool as ChatCompletionTool } from 'openai/resources/chat/completions';
import { ValidationError } from '../../errors.js';
import type { FilesPolicy } from '../files/policy.js';
import { list } from '../files/ops.js';
import { openForRead } from '../files/read.js';
import { writeBuffer } from '../files/write.js';
import { execute } from '../terminal/execute.js';
import type { InfoCache } from '../system/info.js';
import { cmdop } from '../../protocol/gen/cmdop.js';

export type ToolName = 'run_command' | 'read_file' | 'write_file' | 'list_dir' | 'system_info';

export interface ToolCtx {
  policy: FilesPolicy;
  info: InfoCache;
  execMaxOutput: number;
  signal: AbortSignal;
}

export interface ToolOutput {
  output: string;
  error: boolean;
  exitCode?: number;
}

/** What the model is shown of a long output. */
export const MODEL_HEAD_TAIL_BYTES = 5 * 1024;
export const MODEL_HEAD_TAIL_LINES = 128;
const READ_FILE_MAX = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 60_000;

const fn = (name: ToolName, description: string, properties: Record<string, unknown>, required: string[]): ChatCompletionTool => ({
  type: 'function',
  function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } },
});

export const TOOL_DEFS: Record<ToolName, ChatCompletionTool> = {
  run_command: fn('run_command', 'Run a shell command on this machine (no terminal). Returns its output and exit code. Commands that change anything are shown to the user for approval first.', {
    command: { type: 'string', description: 'the exact shell command' },
    cwd: { type: 'string', description: 'working directory (default: home)' },
    timeout_s: { type: 'number', description: 'seconds before it is killed (default 60)' },
  }, ['command']),
  read_file: fn('read_file', 'Read a text file (up to 1 MiB).', { path: { type: 'string' } }, ['path']),
  write_file: fn('write_file', 'Write a whole file atomically. Always shown to the user for approval first.', { path: { type: 'string' }, content: { type: 'string' } }, ['path', 'content']),
  list_dir: fn('list_dir', 'List a directory: name, type, size.', { path: { type: 'string' } }, ['path']),
  system_info: fn('system_info', 'Facts about this machine: OS, CPU, memory, disks, load, uptime.', {}, []),
};

/** Parses a tool call's arguments; only the known fields are kept (an `approved` flag or any other extra is dropped). */
export function parseArgs(name: string, raw: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = raw.trim() ? JSON.parse(raw) : {};
  } catch {
    throw new ValidationError(`the arguments of ${name} are not valid JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError(`the arguments of ${name} must be a JSON object`);
  const def = TOOL_DEFS[name as ToolName];
  if (!def) throw new ValidationError(`there is no tool named ${name}`);
  const props = (def.function.parameters as { properties: Record<string, unknown>; required: string[] });
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(props.properties)) if (k in (v as object)) out[k] = (v as Record<string, unknown>)[k];
  for (const k of props.required) if (typeof out[k] !== 'string') throw new ValidationError(`${name} needs a string "${k}"`);
  return out;
}

export async function runTool(name: ToolName, args: Record<string, unknown>, ctx: ToolCtx): Promise<ToolOutput> {
  switch (name) {
    case 'run_command':
      return runCommand(String(args.command), args, ctx);
    case 'read_file': {
      const { fh, size, user } = await openForRead(ctx.policy, String(args.path));
      try {
        const n = Math.min(size, READ_FILE_MAX);
        const buf = Buffer.alloc(n);
        await fh.read(buf, 0, n, 0);
        return { output: buf.toString('utf8') + (size > n ? `\n[${user}: ${size - n} more bytes not read]` : ''), error: false };
      } finally {
        await fh.close();
      }
    }
    case 'write_file': {
      const r = await writeBuffer(ctx.policy, String(args.path), Buffer.from(String(args.content), 'utf8'), { overwrite: true, createParents: true });
      return { output: `wrote ${r.size} bytes to ${r.path}`, error: false };
    }
    case 'list_dir': {
      const res = await list(ctx.policy, new cmdop.v1.ListFilesRequest({ path: String(args.path), limit: 1000, hidden: true }));
      const type = (t: number | null | undefined) => (t === cmdop.v1.FileType.DIR ? 'dir' : t === cmdop.v1.FileType.SYMLINK ? 'link' : 'file');
      return { output: (res.entries ?? []).map((e) => `${type(e.type)}\t${e.size}\t${e.name}`).join('\n') + (res.nextCursor ? '\n[more entries not shown]' : ''), error: false };
    }
    case 'system_info':
      return { output: JSON.stringify(await ctx.info.get(), null, 1), error: false };
  }
}

function runCommand(command: string, args: Record<string, unknown>, ctx: ToolCtx): Promise<ToolOutput> {
  const chunks: Uint8Array[] = [];
  const timeoutMs = typeof args.timeout_s === 'number' && args.timeout_s > 0 ? Math.min(args.timeout_s * 1000, 3600_000) : COMMAND_TIMEOUT_MS;
  const ex = execute(new cmdop.v1.ExecuteRequest({ command, timeoutMs, cwd: typeof args.cwd === 'string' ? args.cwd : '' }), (c) => chunks.push(c), ctx.execMaxOutput);
  // Cancelling the ask kills the command's whole process group.
  const onAbort = () => ex.kill();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  return ex.done
    .then((r) => {
      const output = Buffer.concat(chunks).toString('utf8') + (r.truncated ? '\n[output truncated]' : '');
      return { output, error: r.exitCode !== 0, exitCode: r.exitCode ?? -1 };
    })
    .finally(() => ctx.signal.removeEventListener('abort', onAbort));
}

/** Head and tail of a long output, for the model's context. */
export function clipForModel(output: string): string {
  const lines = output.split('\n');
  if (output.length <= 2 * MODEL_HEAD_TAIL_BYTES && lines.length <= 2 * MODEL_HEAD_TAIL_LINES) return output;
  let head = lines.slice(0, MODEL_HEAD_TAIL_LINES).join('\n');
  let tail = lines.slice(-MODEL_HEAD_TAIL_LINES).join('\n');
  if (head.length > MODEL_HEAD_TAIL_BYTES) head = head.slice(0, MODEL_HEAD_TAIL_BYTES);
  if (tail.length > MODEL_HEAD_TAIL_BYTES) tail = tail.slice(-MODEL_HEAD_TAIL_BYTES);
  const omitted = output.length - head.length - tail.length;
  return `${head}\n[... ${omitted} characters omitted; the user sees the whole output ...]\n${tail}`;
}
