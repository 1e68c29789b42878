/**
 * terminal.execute: run a command without a pty, stdout and stderr interleaved as produced
 * (one pipe), with a timeout that kills the whole process group, and an output cap.
 */
import { OWN_GROUP, signalGroup } from '../../platform/process.js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { TimeoutError, ValidationError } from '../../errors.js';
import type { cmdop } from '../../protocol/gen/cmdop.js';

export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
export const MAX_EXEC_TIMEOUT_MS = 24 * 3600_000;
/** Output kept by a unary execute unless the request or config says otherwise. */
export const DEFAULT_EXEC_MAX_OUTPUT = 8 * 1024 * 1024;
/** After SIGTERM on cancel, the group gets this long before SIGKILL. */
const KILL_GRACE_MS = 500;

export interface Execution {
  /** Resolves with the result; rejects with TimeoutError on timeout. */
  done: Promise<cmdop.v1.IExecuteResult>;
  /** Pause and resume reading output (backpressure for the streaming variant). */
  pause(): void;
  resume(): void;
  /** Kills the whole process group. */
  kill(): void;
}

export function execute(req: cmdop.v1.ExecuteRequest, onOutput: (chunk: Uint8Array) => void, maxOutput: number, baseEnv: Readonly<Record<string, string>> = {}): Execution {
  if (!req.command) throw new ValidationError('execute needs a command');
  const timeout = req.timeoutMs || DEFAULT_EXEC_TIMEOUT_MS;
  if (timeout > MAX_EXEC_TIMEOUT_MS) throw new ValidationError(`timeout may be at most ${MAX_EXEC_TIMEOUT_MS} ms`);
  const cwd = req.cwd || homedir();
  if (!existsSync(cwd)) throw new ValidationError(`working directory ${cwd} does not exist`);
  const shell = req.shell || (process.platform === 'win32' ? 'cmd.exe' : '/bin/sh');
  const args = process.platform === 'win32' ? ['/d', '/s', '/c', req.command] : ['-c', `exec 2>&1\n${req.command}`];
  const started = Date.now();
  const child = spawn(shell, args, { cwd, env: { ...process.env, ...baseEnv, ...req.env }, stdio: ['ignore', 'pipe', 'pipe'], ...OWN_GROUP });
  let bytes = 0;
  let truncated = false;
  let timedOut = false;
  const take = (chunk: Buffer) => {
    bytes += chunk.length;
    if (truncated) return;
    const room = maxOutput - (bytes - chunk.length);
    if (chunk.length > room) {
      truncated = true;
      if (room > 0) onOutput(chunk.subarray(0, room));
      return;
    }
    onOutput(chunk);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const killGroup = (sig: NodeJS.Signals) => signalGroup(child.pid, sig, () => child.kill(sig));
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGKILL');
  }, timeout);
  const done = new Promise<cmdop.v1.IExecuteResult>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new ValidationError(`cannot run ${shell}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new TimeoutError(`command timed out after ${timeout} ms; its process group was killed`));
      resolve({ exitCode: code ?? -1, signal: signal ?? '', truncated, outputBytes: bytes, durationMs: Date.now() - started });
    });
  });
  return {
    done,
    pause: () => child.stdout!.pause(),
    resume: () => child.stdout!.resume(),
    kill: () => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    },
  };
}
