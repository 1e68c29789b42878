/**
 * Fan-out: one command (or one file) on many machines, at most `parallel` at once. Each machine's
 * output is cut into whole lines before it is handed on, so lines of different machines never
 * interleave mid-line; every machine ends as one result (ok, failed with its exit code, offline,
 * timed out, or an error), and one machine's failure never loses another's output.
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { MessageReader, MSG_OUTPUT, MSG_RESULT } from '../protocol/messages.js';
import { CancelledError, TimeoutError, asCmdopError } from '../errors.js';
import type { Caller } from './caller.js';
import type { Machine } from './machines.js';
import { Files } from './files.js';
import { MachineTarget } from './target.js';

const v1 = cmdop.v1;
export const DEFAULT_PARALLEL = 50;
export const DEFAULT_FANOUT_TIMEOUT_MS = 30_000;
/** Beyond the agent's own timeout, how long the client waits before it gives up on a machine. */
const CLIENT_SLACK_MS = 5000;

export type FanoutStatus = 'ok' | 'failed' | 'offline' | 'timeout' | 'error';

export interface FanoutResult {
  machine: Machine;
  status: FanoutStatus;
  exitCode: number | null;
  signal: string;
  /** For offline, timeout and error: the typed error's code and message. */
  error: { code: string; message: string } | null;
  durationMs: number;
}

export interface FanoutOptions {
  parallel?: number;
  timeoutMs?: number;
  /** Each whole line of output, with the machine it came from. */
  onLine?: (machine: Machine, line: string) => void;
  /** Each machine's result as soon as it is known. */
  onResult?: (r: FanoutResult) => void;
}

export type FanoutWriteOptions = Omit<FanoutOptions, 'onLine'> & { mode?: number; createParents?: boolean };

/** Runs `job` over `items` with at most `parallel` running; results in the items' order. */
export async function boundedAll<T, R>(items: readonly T[], parallel: number, job: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await job(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, worker));
  return out;
}

/** Cuts a byte stream into lines (a partial last line is held until more comes, or the end). */
export class LineCutter {
  private readonly dec = new TextDecoder();
  private rest = '';
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: Uint8Array): void {
    const text = this.rest + this.dec.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    for (const l of lines) this.emit(l.endsWith('\r') ? l.slice(0, -1) : l);
  }
  end(): void {
    const text = this.rest + this.dec.decode();
    this.rest = '';
    if (text) this.emit(text);
  }
}

function result(machine: Machine, startMs: number, status: FanoutStatus, o: Partial<FanoutResult> = {}): FanoutResult {
  return { machine, status, exitCode: null, signal: '', error: null, durationMs: Date.now() - startMs, ...o };
}

function failure(machine: Machine, startMs: number, err: unknown): FanoutResult {
  const e = asCmdopError(err, 'fan-out');
  const status: FanoutStatus = e.detail === 'machine_offline' ? 'offline' : e.code === 'timeout' ? 'timeout' : 'error';
  return result(machine, startMs, status, { error: { code: e.code, message: e.message } });
}

export async function fanoutExec(caller: Caller, machines: readonly Machine[], command: string, o: FanoutOptions = {}): Promise<FanoutResult[]> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_FANOUT_TIMEOUT_MS;
  return boundedAll(machines, o.parallel ?? DEFAULT_PARALLEL, async (m) => {
    const start = Date.now();
    const r = m.presence === 'offline' ? result(m, start, 'offline', { error: { code: 'unavailable', message: `machine ${m.hostname} is offline` } }) : await execOne(caller, m, command, timeoutMs, o.onLine).catch((err) => failure(m, start, err));
    o.onResult?.(r);
    return r;
  });
}

function execOne(caller: Caller, m: Machine, command: string, timeoutMs: number, onLine?: (m: Machine, line: string) => void): Promise<FanoutResult> {
  const start = Date.now();
  const req = v1.ExecuteRequest.encode({ command, timeoutMs }).finish();
  return caller.open({ target: m.id, service: 'terminal', method: 'execute.stream', request: req, end: true }).then(
    (stream) =>
      new Promise<FanoutResult>((resolve, reject) => {
        const lines = new LineCutter((l) => onLine?.(m, l));
        let res: cmdop.v1.ExecuteResult | null = null;
        const reader = new MessageReader((type, body) => {
          if (type === MSG_OUTPUT) lines.push(body);
          else if (type === MSG_RESULT) res = v1.ExecuteResult.decode(body);
        });
        const timer = setTimeout(() => stream.abort(new CancelledError(`no answer from ${m.hostname} within ${timeoutMs + CLIENT_SLACK_MS} ms`)), timeoutMs + CLIENT_SLACK_MS);
        stream.handle({
          onData: (c) => reader.push(c),
          onClose: (err) => {
            clearTimeout(timer);
            lines.end();
            if (err) return reject(err.code === 'cancelled' ? new TimeoutError(err.message) : err);
            const r = res;
            if (!r) return reject(new Error('the stream ended without a result'));
            resolve(result(m, start, r.exitCode === 0 && !r.signal ? 'ok' : 'failed', { exitCode: r.exitCode, signal: r.signal }));
          },
        });
      }),
  );
}

export async function fanoutWrite(caller: Caller, machines: readonly Machine[], path: string, data: Uint8Array, o: FanoutWriteOptions = {}): Promise<FanoutResult[]> {
  return boundedAll(machines, o.parallel ?? DEFAULT_PARALLEL, async (m) => {
    const start = Date.now();
    let r: FanoutResult;
    if (m.presence === 'offline') r = result(m, start, 'offline', { error: { code: 'unavailable', message: `machine ${m.hostname} is offline` } });
    else {
      const target = new MachineTarget(false);
      target.set({ machineId: m.id });
      r = await new Files(caller, target)
        .write(path, data, { ...(o.mode !== undefined ? { mode: o.mode } : {}), ...(o.createParents ? { createParents: true } : {}), overwrite: true })
        .then(() => result(m, start, 'ok', { exitCode: 0 }))
        .catch((err) => failure(m, start, err));
    }
    o.onResult?.(r);
    return r;
  });
}
