/**
 * A session's screen kept in the shared emulator worker (screen-worker.ts), with the same
 * interface as Screen. Output is copied to the worker in batches; the worker reports how far it
 * has parsed (for the backlog watermark) and answers snapshots. If no worker can start, sessions
 * fall back to an in-thread Screen.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Screen, SCREEN_LOW_WATER, type ScreenSnapshot } from './screen.js';
import type { FromWorker, ToWorker } from './screen-worker.js';

/** What a session needs of its screen, in thread or in the worker. */
export interface SessionScreen {
  readonly backlog: number;
  onDrained: (() => void) | null;
  write(chunk: Uint8Array): void;
  resize(cols: number, rows: number): void;
  snapshot(): Promise<ScreenSnapshot>;
  dispose(): void;
}

/** Output is handed to the worker at most this often (or once this much is waiting). */
const POST_EVERY_MS = 5;
const POST_MAX_BYTES = 256 * 1024;

let worker: Worker | null | undefined;
const byId = new Map<number, RemoteScreen>();
let nextId = 1;

/**
 * The worker's script: set by the single executable (extracted from its assets), else beside this
 * module. From the TypeScript sources (the tests) it is the build's copy, which `npm test` makes.
 */
function workerFile(): string | null {
  if (process.env.CMDOP_SCREEN_WORKER) return process.env.CMDOP_SCREEN_WORKER;
  for (const rel of ['./screen-worker.js', '../../../dist/src/agent/terminal/screen-worker.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return null;
}

function shared(): Worker | null {
  if (worker !== undefined) return worker;
  const file = workerFile();
  try {
    worker = file ? new Worker(file) : null;
  } catch {
    worker = null;
  }
  if (worker) {
    worker.unref();
    worker.on('message', (m: FromWorker) => byId.get(m.id)?.receive(m));
    worker.on('error', (err) => {
      worker = null; // sessions keep their last state; new sessions use in-thread screens
    });
  }
  return worker;
}

class RemoteScreen implements SessionScreen {
  private written = 0;
  private parsed = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextReq = 1;
  private readonly snapshots = new Map<number, (s: ScreenSnapshot) => void>();
  onDrained: (() => void) | null = null;

  constructor(private readonly w: Worker, private readonly id: number, cols: number, rows: number) {
    byId.set(id, this);
    this.post({ t: 'new', id, cols, rows });
  }

  get backlog(): number {
    return this.written - this.parsed;
  }

  private post(m: ToWorker): void {
    this.w.postMessage(m);
  }

  write(chunk: Uint8Array): void {
    this.written += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= POST_MAX_BYTES) this.flush();
    else this.timer ??= setTimeout(this.flush, POST_EVERY_MS);
  }

  private readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending, this.pendingBytes); // a copy the worker owns
    this.pending = [];
    this.pendingBytes = 0;
    this.post({ t: 'w', id: this.id, data });
  };

  resize(cols: number, rows: number): void {
    this.flush(); // output before the resize is parsed at the old size
    this.post({ t: 'r', id: this.id, cols, rows });
  }

  snapshot(): Promise<ScreenSnapshot> {
    this.flush();
    const req = this.nextReq++;
    return new Promise((resolve) => {
      this.snapshots.set(req, resolve);
      this.post({ t: 's', id: this.id, req });
    });
  }

  receive(m: FromWorker): void {
    if (m.t === 'p') {
      this.parsed = m.parsed;
      if (this.onDrained && this.backlog <= SCREEN_LOW_WATER) {
        const cb = this.onDrained;
        this.onDrained = null;
        cb();
      }
      return;
    }
    const resolve = this.snapshots.get(m.req);
    this.snapshots.delete(m.req);
    resolve?.({ data: m.data, offset: m.offset, cols: m.cols, rows: m.rows });
  }

  dispose(): void {
    clearTimeout(this.timer);
    byId.delete(this.id);
    this.post({ t: 'd', id: this.id });
  }
}

/** The screen for a new session: in the worker when it runs, else in this thread. */
export function createScreen(cols: number, rows: number): SessionScreen {
  const w = shared();
  return w ? new RemoteScreen(w, nextId++, cols, rows) : new Screen(cols, rows);
}
