/**
 * Runs one schedule's action on this host and says how it went. A command runs as
 * `terminal.execute` does (its own process group, killed as a whole at the timeout); its output
 * is kept as a head and a tail of `maxOutput` bytes in all. An ask runs the AI loop with nobody
 * to answer: no PIN can be typed and nothing can be confirmed, so only commands the classifier
 * calls safe, or whose exact hash a person approved when creating the schedule, may run.
 */
import { CmdopError, TimeoutError, asCmdopError } from '../../errors.js';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { execute } from '../terminal/execute.js';
import type { ScheduleAction } from '../../control/schedules/spec.js';
import type { RunRecord, RunStatus } from '../../relay/store/records.js';

/** How a run went: the part of its record the action decides. */
export type Outcome = Pick<RunRecord, 'status' | 'exitCode' | 'outputHead' | 'outputTail' | 'outputBytes' | 'reason'>;

/** The AI side of a scheduled ask (the agent's AiService). */
export interface UnattendedAsk {
  (o: { scheduleId: string; prompt: string; agentType: string; approved: readonly string[]; timeoutMs: number; signal: AbortSignal }): Promise<{ text: string; refused: string[] }>;
}

export interface RunnerDeps {
  commandEnv: Readonly<Record<string, string>>;
  ask?: UnattendedAsk;
}

/** Keeps the first and last `max / 2` bytes of a stream. */
export class HeadTail {
  private head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  bytes = 0;

  constructor(private readonly max: number) {}

  push(chunk: Uint8Array): void {
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.bytes += b.length;
    const half = Math.floor(this.max / 2);
    const room = half - this.headLen;
    if (room > 0) {
      const take = b.subarray(0, room);
      this.head.push(Buffer.from(take));
      this.headLen += take.length;
      if (take.length === b.length) return;
    }
    const rest = room > 0 ? b.subarray(room) : b;
    this.tail.push(Buffer.from(rest));
    this.tailLen += rest.length;
    while (this.tailLen - this.tail[0]!.length >= this.max - half) this.tailLen -= this.tail.shift()!.length;
  }

  result(): { head: string; tail: string } {
    const tail = Buffer.concat(this.tail);
    return { head: Buffer.concat(this.head).toString('utf8'), tail: tail.subarray(Math.max(0, tail.length - (this.max - Math.floor(this.max / 2)))).toString('utf8') };
  }
}

export async function runAction(a: ScheduleAction, scheduleId: string, d: RunnerDeps, signal: AbortSignal): Promise<Outcome> {
  if (a.kind === 'exec') return runExec(a, d, signal);
  if (!d.ask) return fail('error', 'this agent has no AI loop configured');
  try {
    const r = await d.ask({ scheduleId, prompt: a.prompt, agentType: a.agentType, approved: a.approved, timeoutMs: a.timeoutMs, signal });
    const refused = r.refused.length ? `refused (needs a person to confirm): ${r.refused.join(' | ')}` : '';
    const text = new HeadTail(8192);
    text.push(Buffer.from(r.text));
    const out = text.result();
    return { status: 'ok', exitCode: 0, outputHead: out.head, outputTail: out.tail, outputBytes: text.bytes, reason: refused };
  } catch (err) {
    const e = asCmdopError(err, 'scheduled ask');
    return fail(e.code === 'timeout' ? 'timeout' : 'error', `${e.code}: ${e.message}`);
  }
}

async function runExec(a: Extract<ScheduleAction, { kind: 'exec' }>, d: RunnerDeps, signal: AbortSignal): Promise<Outcome> {
  const out = new HeadTail(a.maxOutput);
  let x;
  try {
    x = execute(new cmdop.v1.ExecuteRequest({ command: a.command, cwd: a.cwd, env: a.env, timeoutMs: a.timeoutMs }), (c) => out.push(c), Number.MAX_SAFE_INTEGER, d.commandEnv);
  } catch (err) {
    return fail('error', asCmdopError(err, 'starting the command').message);
  }
  const onAbort = () => x.kill();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await x.done;
    const o = out.result();
    const failed = r.exitCode !== 0 || !!r.signal;
    return { status: failed ? 'failed' : 'ok', exitCode: r.signal ? -1 : (r.exitCode ?? -1), outputHead: o.head, outputTail: o.tail, outputBytes: out.bytes, reason: r.signal ? `killed by ${r.signal}` : '' };
  } catch (err) {
    const o = out.result();
    const timedOut = err instanceof TimeoutError;
    const e = err instanceof CmdopError ? err : asCmdopError(err, 'running the command');
    return { status: timedOut ? 'timeout' : 'error', exitCode: -1, outputHead: o.head, outputTail: o.tail, outputBytes: out.bytes, reason: e.message };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

const fail = (status: RunStatus, reason: string): Outcome => ({ status, exitCode: -1, outputHead: '', outputTail: '', outputBytes: 0, reason });
