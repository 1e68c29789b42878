/**
 * terminal.recordings.*: list, get, and read (the gzip members on disk, or with `decompress`
 * the asciicast text, for a browser). A recording in progress reads up to its last complete
 * member, so what a reader gets always decompresses.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { abortWith, decodeRequest, type ServiceRegistry } from '../../link/services.js';
import { writableTo } from '../../link/node-streams.js';
import type { Stream } from '../../protocol/stream.js';
import type { Logger } from '../../log.js';
import type { RecordingStore } from './store.js';
import { indexFor, segmentOf } from './segments.js';

/** How the console's player names segment n (its fetch shim answers these over the link). */
export const SEGMENT_URL = 'cmdop-recording:segment/';

const v1 = cmdop.v1;

export interface RecordingsCtx {
  log: Logger;
  recordings: RecordingStore;
}

export function registerRecordings<C extends RecordingsCtx>(r: ServiceRegistry<C>): ServiceRegistry<C> {
  return r
    .unary('terminal', 'recordings.list', v1.Empty, (_req, { recordings }) => v1.ListRecordingsResponse.encode({ recordings: recordings.list() }).finish())
    .unary('terminal', 'recordings.get', v1.SessionRef, (req, { recordings }) => v1.RecordingInfo.encode(recordings.get(req.sessionId)).finish())
    .unary('terminal', 'recordings.segments', v1.SessionRef, async (req, { recordings }) => {
      const { path, size, finished } = recordings.file(req.sessionId);
      const index = await indexFor(path, size, finished, (n) => `${SEGMENT_URL}${n}`);
      return v1.RecordingJson.encode({ json: Buffer.from(JSON.stringify(index)) }).finish();
    })
    .unary('terminal', 'recordings.segment', v1.RecordingSegmentRequest, async (req, { recordings }) => {
      const { path, size, finished } = recordings.file(req.sessionId);
      const index = await indexFor(path, size, finished, (n) => `${SEGMENT_URL}${n}`);
      return v1.RecordingJson.encode({ json: Buffer.from(await segmentOf(path, size, index, req.segment)) }).finish();
    })
    .stream('terminal', 'recordings.read', (stream, ctx) => {
      readRecording(stream, ctx.recordings).catch((err) => abortWith(stream, ctx.log, err, 'terminal.recordings.read'));
    });
}

async function readRecording(stream: Stream, store: RecordingStore): Promise<void> {
  const req = decodeRequest(v1.ReadRecordingRequest, stream);
  const info = store.get(req.sessionId);
  const size = Number(info.bytes);
  const out = writableTo(stream);
  const file = createReadStream(store.castPath(req.sessionId), { start: 0, end: Math.max(0, size - 1), highWaterMark: 256 * 1024 });
  if (req.decompress) await pipeline(file, createGunzip(), out);
  else await pipeline(file, out);
}
