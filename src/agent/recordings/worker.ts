/**
 * The recording worker: a thread beside the agent's main one that turns each recording's raw
 * chunks into asciicast text and compresses it, so that escaping and gzip never sit between a
 * pty read and the next (see compressor.ts, its host). One renderer per recording, in order.
 */
import { parentPort } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { ChunkRenderer, GZIP } from './chunk.js';

/** Main -> worker: a chunk to compress, or a recording that ended. */
export type ToWorker = { seq: number; id: number; raw: ArrayBuffer; offset: number; length: number } | { drop: number };
/** Worker -> main: a chunk's gzip member and the text it holds, or why it failed. */
export type FromWorker = { seq: number; gz: Uint8Array; text: number } | { seq: number; error: string };

const renderers = new Map<number, ChunkRenderer>();

parentPort?.on('message', (m: ToWorker) => {
  if ('drop' in m) {
    renderers.delete(m.drop);
    return;
  }
  let r = renderers.get(m.id);
  if (!r) renderers.set(m.id, (r = new ChunkRenderer()));
  let reply: FromWorker;
  try {
    const text = r.render(new Uint8Array(m.raw, m.offset, m.length));
    reply = { seq: m.seq, gz: gzipSync(text, GZIP), text: text.length };
  } catch (err) {
    reply = { seq: m.seq, error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
