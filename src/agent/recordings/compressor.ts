/**
 * The host side of the recording worker (worker.ts): one thread for every recording of the agent,
 * started on the first chunk and stopped once no recording has been live for IDLE_MS, so an idle
 * agent carries no thread. A chunk's buffer moves to the worker (transferred, not copied) when it
 * owns its memory, and comes back with the chunk's gzip member, for the next chunk: the worker's
 * small heap would collect it late (measured: ~20 MB more agent RSS while a session recorded).
 * If the thread dies, every chunk in flight fails with the reason, and the next chunk starts a
 * new thread.
 *
 * The worker's file: CMDOP_RECORDING_WORKER (the single executable points it at its extracted
 * copy; the unit tests, which run the sources, at the built one), else worker.js beside this file.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { ownsMemory } from './chunk.js';
import type { FromWorker, ToWorker } from './worker.js';

export const IDLE_MS = 30_000;
/**
 * Chunk buffers kept for reuse when the worker gives them back: a recorder fills one while the
 * worker holds another, so a few serve a handful of busy sessions; more come and go as garbage.
 */
const SPARE_BUFFERS = 4;

export type Compressed = (err: Error | null, gz?: Buffer, textBytes?: number) => void;

function workerFile(): string {
  return process.env.CMDOP_RECORDING_WORKER ?? fileURLToPath(new URL('./worker.js', import.meta.url));
}

export class RecordingCompressor {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Compressed>();
  private readonly live = new Set<number>();
  private seq = 0;
  private idle: NodeJS.Timeout | null = null;
  /** Chunk memory the worker gave back, for the next chunks (let go with the thread). */
  private readonly spare: ArrayBuffer[] = [];

  /** The worker's file (tests give one that fails). */
  constructor(private readonly file = workerFile()) {}

  /**
   * A buffer of at least `n` bytes for a chunk: one whose memory came back from the worker, else
   * a new one. Only the caller holds it.
   */
  buffer(n: number): Buffer {
    for (let i = this.spare.length - 1; i >= 0; i--) {
      if (this.spare[i]!.byteLength < n) continue;
      const [ab] = this.spare.splice(i, 1);
      return Buffer.from(ab!);
    }
    return Buffer.allocUnsafe(n);
  }

  /** Compresses a chunk of recording `id`'s records; `raw` is the compressor's from now on. */
  compress(id: number, raw: Buffer, done: Compressed): void {
    this.live.add(id);
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const w = this.worker ?? this.start();
    const seq = ++this.seq;
    // A chunk in flight keeps the process alive, as gzip on libuv's pool did: an agent that stops
    // still writes its recordings' last chunks. Idle, the thread holds nothing open.
    if (this.pending.size === 0) w.ref();
    this.pending.set(seq, done);
    // The recorder's chunks own their memory (they are larger than Buffer's pool) and move to the
    // worker; anything else (a pooled slice, a view into someone's buffer) is copied.
    const moved = ownsMemory(raw);
    const body = moved ? raw : Buffer.from(raw);
    const msg: ToWorker = { seq, id, raw: body.buffer as ArrayBuffer, offset: body.byteOffset, length: body.length, moved };
    w.postMessage(msg, moved ? [body.buffer as ArrayBuffer] : []);
  }

  /** Recording `id` ended: its renderer goes, and the thread too once nothing is live. */
  drop(id: number): void {
    if (!this.live.delete(id)) return;
    this.worker?.postMessage({ drop: id } satisfies ToWorker);
    if (this.live.size === 0 && !this.idle) {
      this.idle = setTimeout(() => this.stop(), IDLE_MS);
      this.idle.unref();
    }
  }

  /** Whether the thread is running (tests, and the idle memory figure). */
  get running(): boolean {
    return this.worker !== null;
  }

  private start(): Worker {
    // A small heap: the worker holds one chunk's text and a zlib stream at a time. None of the
    // agent's own node flags: a worker refuses some (`--input-type`), and needs none.
    const w = new Worker(this.file, { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } });
    w.unref();
    w.on('message', (m: FromWorker) => {
      if (m.back && this.spare.length < SPARE_BUFFERS) this.spare.push(m.back);
      const done = this.pending.get(m.seq);
      this.pending.delete(m.seq);
      if (this.pending.size === 0) w.unref();
      if (!done) return;
      if ('error' in m) done(new Error(m.error));
      else done(null, Buffer.from(m.gz.buffer, m.gz.byteOffset, m.gz.length), m.text);
    });
    const died = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      const lost = [...this.pending.values()];
      this.pending.clear();
      for (const done of lost) done(new Error(`the recording worker stopped: ${why}`));
    };
    w.on('error', (err) => died(err.message));
    w.on('exit', (code) => died(`exit code ${code}`));
    this.worker = w;
    return w;
  }

  private stop(): void {
    this.idle = null;
    if (this.live.size > 0 || this.pending.size > 0 || !this.worker) return;
    const w = this.worker;
    this.worker = null;
    this.spare.length = 0; // written memory: an idle agent keeps none of it
    void w.terminate();
  }

  /** Stops the thread now; chunks in flight fail. */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    this.live.clear();
    this.spare.length = 0;
    const w = this.worker;
    if (w) await w.terminate(); // its exit fails what was in flight
  }
}

/** The agent's one compressor. */
let shared: RecordingCompressor | null = null;
export function recordingCompressor(): RecordingCompressor {
  return (shared ??= new RecordingCompressor());
}
