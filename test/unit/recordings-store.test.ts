/**
 * The recording store on a real directory with a fake clock: retention by age and by total size
 * (oldest first, never a recording in progress), a crash's leftovers marked interrupted, and the
 * recorder's own bounds (chunks are whole gzip members; the cap holds).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RecordingStore, type RecordedSession, type RecordingsConfig } from '../../src/agent/recordings/store.js';
import { parseCast } from '../../src/protocol/asciicast.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;
const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((c) => c()));

function setup(over: Partial<RecordingsConfig> = {}) {
  const { dir, cleanup } = tempDir();
  dirs.push(cleanup);
  let now = 1_000 * DAY;
  const clock = () => now;
  const audit: Array<{ type: string; fields: Record<string, unknown> }> = [];
  const cfg: RecordingsConfig = { dir, mode: 'best-effort', input: false, maxBytes: 1 << 20, retentionDays: 30, maxTotalBytes: 0, ...over };
  const store = new RecordingStore(cfg, silentLogger(), (type, fields) => audit.push({ type, fields }), clock);
  return { dir, store, audit, advance: (ms: number) => (now += ms), cfg, clock };
}

let n = 0;
function session(id = `00000000-0000-0000-0000-${String(++n).padStart(12, '0')}`): RecordedSession & { paused: number; closed: boolean } {
  const s = { id, cols: 80, rows: 24, shell: '/bin/sh', hostname: 'h', term: 'xterm', paused: 0, closed: false, pause: () => s.paused++, resume: () => s.paused--, close: () => (s.closed = true) };
  return s;
}

async function finished(store: RecordingStore, id: string): Promise<void> {
  await waitFor('the recording to close', () => store.get(id).status !== 'recording');
}

describe('recording store', () => {
  it('removes recordings past their age, then the oldest past the total size, never a live one', async () => {
    const { store, advance } = setup({ retentionDays: 10, maxTotalBytes: 0 });
    const old = session();
    store.start(old)!.finish('exit 0');
    await finished(store, old.id);
    advance(5 * DAY);
    const mid = session();
    store.start(mid)!.finish('exit 0');
    await finished(store, mid.id);
    const live = session();
    const rec = store.start(live)!;
    advance(6 * DAY); // old is 11 days old, mid 6, live is in progress
    store.sweep();
    expect(store.list().map((r) => r.sessionId)).toEqual([mid.id, live.id]);
    expect(existsSync(store.castPath(old.id))).toBe(false);
    advance(30 * DAY);
    store.sweep();
    expect(store.list().map((r) => r.sessionId)).toEqual([live.id]); // in progress: kept whatever its age
    rec.finish();
    await finished(store, live.id);
  });

  it('keeps the newest recordings within the total size', async () => {
    const { store, advance, cfg } = setup({ retentionDays: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const s = session();
      const r = store.start(s)!;
      r.output(Buffer.from(`${i}`.repeat(5000)));
      r.finish('exit 0');
      await finished(store, s.id);
      ids.push(s.id);
      advance(1000);
    }
    const each = Number(store.get(ids[0]!).bytes);
    (cfg as { maxTotalBytes: number }).maxTotalBytes = each * 2 + 1;
    store.sweep();
    expect(store.list().map((r) => r.sessionId)).toEqual(ids.slice(2));
  });

  it('a recording left "recording" by a crash is marked interrupted at the next start, with what was flushed', async () => {
    const { dir, store, cfg, clock } = setup();
    const s = session();
    const r = store.start(s)!;
    r.output(Buffer.from('before the crash\r\n'));
    r.flush();
    await waitFor('the chunk on disk', () => gunzipSync(readFileSync(store.castPath(s.id))).toString().includes('before the crash'));
    // The agent dies here: no finish. A new store over the same directory:
    const again = new RecordingStore(cfg, silentLogger(), () => undefined, clock);
    const info = again.get(s.id);
    expect(info).toMatchObject({ status: 'interrupted', error: 'the agent stopped while recording' });
    expect(Number(info.bytes)).toBe(readFileSync(store.castPath(s.id)).length);
    expect(parseCast(gunzipSync(readFileSync(again.castPath(s.id))).toString()).events.map((e) => e.data)).toEqual(['before the crash\r\n']);
    expect(dir).toBeTruthy();
    again.close();
  });

  it('multi-byte characters split across pty reads are recorded whole; bad ids and unknown modes are typed errors', async () => {
    const { store } = setup();
    const s = session();
    const r = store.start(s)!;
    const bytes = Buffer.from('añ😀b');
    for (const b of bytes) r.output(Buffer.from([b])); // one byte per read
    r.finish();
    await finished(store, s.id);
    const { events } = parseCast(gunzipSync(readFileSync(store.castPath(s.id))).toString());
    expect(events.map((e) => e.data).join('')).toBe('añ😀b');
    expect(() => store.get('../../etc/passwd')).toThrow(/no recording/);
    expect(() => new RecordingStore({ ...store.cfg, mode: 'sometimes' as never }, silentLogger(), () => undefined)).toThrow(/recording mode is/);
    writeFileSync(join(store.cfg.dir, 'junk.json'), '{not json');
    expect(store.list().map((x) => x.sessionId)).toEqual([s.id]); // a damaged index is skipped, not fatal
  });
});
