/**
 * The pseudo-terminal backend behind one interface, chosen here and nowhere else (node-pty picks
 * its own per-OS class in one place the same way). Sessions, the doctor and tests spawn through
 * spawnPty(); only this file knows node-pty's shape.
 */
import { createRequire } from 'node:module';
import type * as NodePty from '@lydell/node-pty';

/** node-pty (and its native addon) loads with the first terminal: an idle agent does not map it. */
let nodePty: typeof NodePty | undefined;
function ptyLib(): typeof NodePty {
  if (!nodePty) {
    const require = createRequire(import.meta.url);
    nodePty = require('@lydell/node-pty') as typeof NodePty;
  }
  return nodePty;
}

export interface PtySpawnOptions {
  cols: number;
  rows: number;
  cwd: string;
  env: Record<string, string>;
  /** $TERM for the program (default xterm-256color). */
  name?: string;
}

export interface PtyExit {
  exitCode: number;
  /** The signal number that ended the program, or 0. */
  signal: number;
}

export interface Pty {
  readonly pid: number;
  /**
   * The master side's file descriptor where there is one (Unix), so input can be written to it
   * without a thread hop; null where the backend has none (Windows ConPTY).
   */
  readonly masterFd: number | null;
  onData(listener: (bytes: Uint8Array) => void): void;
  onExit(listener: (e: PtyExit) => void): void;
  /** Bytes to the program, as they are (never re-encoded). */
  write(bytes: Uint8Array): void;
  resize(cols: number, rows: number): void;
  /** Stops reading the program's output (backpressure) until resume(). */
  pause(): void;
  resume(): void;
  kill(signal?: string): void;
}

/** Spawns `file` with `args` on a new pty, output as raw bytes (no string decoding). */
export function spawnPty(file: string, args: string[], o: PtySpawnOptions): Pty {
  const p = ptyLib().spawn(file, args, { name: o.name ?? 'xterm-256color', cols: o.cols, rows: o.rows, cwd: o.cwd, env: o.env, encoding: null });
  // node-pty keeps the master's descriptor on its Unix terminal as `fd` and documents no accessor;
  // this is the one place that reads it.
  const fd = (p as unknown as { fd?: unknown }).fd;
  return {
    pid: p.pid,
    masterFd: typeof fd === 'number' && process.platform !== 'win32' ? fd : null,
    onData: (l) => void p.onData((d) => l(d as unknown as Uint8Array)),
    onExit: (l) => void p.onExit(({ exitCode, signal }) => l({ exitCode, signal: signal ?? 0 })),
    // With encoding null node-pty writes Buffers as bytes; its typings only say string.
    write: (bytes) => p.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as string),
    resize: (cols, rows) => p.resize(cols, rows),
    pause: () => p.pause(),
    resume: () => p.resume(),
    kill: (signal) => p.kill(signal),
  };
}
