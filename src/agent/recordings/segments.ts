/**
 * A recording cut into segments for asciinema-player's segmented format, so that the console
 * streams a recording a piece at a time and can still seek anywhere: each segment starts with a
 * snapshot of the screen at its first event (the session's own headless emulator, replayed over
 * the recording), so the player can jump to it without the events before it.
 *
 * Segments are about a fiftieth of the recording long (at least a second) and hold at most
 * SEGMENT_BYTES of output, so a long `cat` is many small segments. The index is built in one
 * pass over the file and kept beside it once the recording is finished.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { CastReader, type CastEvent, type CastHeader } from '../../protocol/asciicast.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import { Screen } from '../terminal/screen.js';
import { NotFoundError } from '../../errors.js';

export const SEGMENT_BYTES = 1024 * 1024;
const SEGMENTS_TARGET = 50;

export interface SegmentIndex {
  version: 1;
  duration: number;
  term: { cols: number; rows: number };
  markers: Array<[number, string]>;
  segments: Array<{ start: number; url: string; first: number; snapshot: { cols: number; rows: number; init: string } }>;
}

/** Reads every event of a recording's first `size` bytes (its complete gzip members), in order, header first. */
async function readCast(path: string, size: number, onHeader: (h: CastHeader) => void, onEvent: (e: CastEvent, i: number) => Promise<void> | void): Promise<void> {
  let i = 0;
  const pending: CastEvent[] = [];
  const reader = new CastReader((e) => pending.push(e), onHeader);
  const text = createReadStream(path, { start: 0, end: Math.max(0, size - 1) }).pipe(createGunzip());
  text.setEncoding('utf8');
  for await (const chunk of text) {
    reader.push(chunk as string);
    for (const e of pending.splice(0)) await onEvent(e, i++);
  }
  reader.end();
}

/** Builds the index: the snapshot at each segment's start comes from replaying the output before it. */
export async function buildIndex(path: string, size: number, urlOf: (segment: number) => string): Promise<SegmentIndex> {
  let header: CastHeader | null = null;
  let screen: Screen | null = null;
  const events: Array<{ time: number; i: number; bytes: number }> = [];
  const index: SegmentIndex = { version: 1, duration: 0, term: { cols: 80, rows: 24 }, markers: [], segments: [] };
  // A first pass for the times and sizes (cheap), to place the cuts; then a replay for the snapshots.
  await readCast(path, size, (h) => (header = h), (e, i) => void events.push({ time: e.time, i, bytes: e.code === 'o' ? e.data.length : 0 }));
  if (!header) throw new NotFoundError('the recording has no header yet');
  const h = header as CastHeader;
  index.term = { cols: h.width, rows: h.height };
  if (events.length === 0) {
    index.segments.push({ start: 0, url: urlOf(0), first: 0, snapshot: { ...index.term, init: '' } });
    return index;
  }
  const duration = events[events.length - 1]!.time;
  index.duration = duration;
  const span = Math.max(1, duration / SEGMENTS_TARGET);
  const cuts = new Set<number>(); // event indices that start a segment (after the first)
  let segStart = 0;
  let bytes = 0;
  for (let k = 1; k < events.length; k++) {
    const e = events[k]!;
    bytes += events[k - 1]!.bytes;
    // A cut needs a strictly later time than the event before it, and must not land on the end.
    if ((e.time - segStart >= span || bytes >= SEGMENT_BYTES) && e.time > events[k - 1]!.time && e.time < duration) {
      cuts.add(k);
      segStart = e.time;
      bytes = 0;
    }
  }
  screen = new Screen(h.width, h.height);
  try {
    index.segments.push({ start: 0, url: urlOf(0), first: 0, snapshot: { ...index.term, init: '' } });
    await readCast(path, size, () => undefined, async (e, i) => {
      if (cuts.has(i)) {
        const snap = await screen!.snapshot();
        index.segments.push({ start: e.time, url: urlOf(index.segments.length), first: i, snapshot: { cols: snap.cols, rows: snap.rows, init: Buffer.from(snap.data).toString('utf8') } });
      }
      if (e.code === 'o') screen!.write(Buffer.from(e.data));
      else if (e.code === 'r') {
        const [cols, rows] = e.data.split('x').map(Number);
        screen!.resize(cols!, rows!);
      } else if (e.code === 'm') index.markers.push([e.time, e.data]);
    });
  } finally {
    screen.dispose();
  }
  return index;
}

/** The events of segment `n`, as the player wants them: `{ snapshot, events: [[time, code, data]] }`. */
export async function segmentOf(path: string, size: number, index: SegmentIndex, n: number): Promise<string> {
  const seg = index.segments[n];
  if (!seg) throw new NotFoundError(`the recording has no segment ${n}`);
  const end = index.segments[n + 1]?.first ?? Infinity;
  const out: Array<[number, string, string]> = [];
  await readCast(path, size, () => undefined, (e, i) => {
    if (i >= seg.first && i < end) out.push([e.time, e.code, e.data]);
  });
  return JSON.stringify({ snapshot: seg.snapshot, events: out });
}

/** The index, from beside the file when the recording is finished (built and kept there the first time). */
export async function indexFor(path: string, size: number, finished: boolean, urlOf: (segment: number) => string): Promise<SegmentIndex> {
  const kept = `${path}.segments.json`;
  if (finished) {
    try {
      return JSON.parse(readFileSync(kept, 'utf8')) as SegmentIndex;
    } catch {
      // not built yet
    }
  }
  const index = await buildIndex(path, size, urlOf);
  if (finished) {
    try {
      writeFileAtomic(kept, JSON.stringify(index), { durable: false });
    } catch {
      // a full disk: it is rebuilt next time
    }
  }
  return index;
}
