/**
 * The recording worker: a thread beside the agent's main one that turns each recording's raw
 * chunks into asciicast text and compresses it, so that escaping and gzip never sit between a
 * pty read and the next (see compressor.ts, its host). One renderer per recording, in order.
 * Memory moves both ways rather than being copied: the chunk in, its gzip member and the chunk's
 * memory (for reuse) back.
 */
import { parentPort } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { ChunkRenderer, GZIP, ownsMemory } from './chunk.js';

/** Main -> worker: a chunk to compress (its memory moved here when `moved`), or a recording that ended. */
export type ToWorker = { seq: number; id: number; raw: ArrayBuffer; offset: number; length: number; moved: boolean } | { drop: number };
/**
 * Worker -> main: a chunk's gzip member and the text it holds, or why it failed; `back` is the
 * chunk's memory, moved back for the recorder's next chunk (the worker's heap is small and would
 * collect it late).
 */
export type FromWorker = ({ seq: number; gz: Uint8Array; text: number } | { seq: number; error: string }) & { back?: ArrayBuffer };

const renderers = new Map<number, ChunkRenderer>();

parentPort?.on('message', (m: ToWorker) => {
  if ('drop' in m) {
    renderers.delete(m.drop);
    return;
  }
  let r = renderers.get(m.id);
  if (!r) renderers.set(m.id, (r = new ChunkRenderer()));
  let reply: FromWorker;
  const moving: ArrayBuffer[] = [];
  try {
    const text = r.render(new Uint8Array(m.raw, m.offset, m.length));
    const gz = gzipSync(text, GZIP);
    reply = { seq: m.seq, gz, text: text.length };
    if (ownsMemory(gz)) moving.push(gz.buffer as ArrayBuffer);
  } catch (err) {
    reply = { seq: m.seq, error: (err as Error).message };
  }
  if (m.moved) {
    reply.back = m.raw;
    moving.push(m.raw);
  }
  parentPort!.postMessage(reply, moving);
});
