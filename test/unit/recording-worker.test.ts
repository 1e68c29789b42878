/**
 * The recording's two halves. The raw records the terminal's thread gathers render to exactly the
 * lines the encoder writes for the same reads, wherever the chunks are cut (a character split
 * across two chunks included). The worker thread that renders and compresses them (a real
 * thread, running the built file) keeps each recording's state apart, fails every chunk in flight
 * when it dies, starts again on the next chunk, and stops once no recording is live (a fake clock
 * for that wait). Property tests are bounded by case count.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { eventLine } from '../../src/protocol/asciicast.js';
import { CastEncoder } from '../../src/agent/recordings/encode.js';
import { ChunkRenderer, putRecord, RECORD_HEAD, type RecordKind } from '../../src/agent/recordings/chunk.js';
import { IDLE_MS, RecordingCompressor } from '../../src/agent/recordings/compressor.js';
import { tempDir } from '../helpers/tmp.js';
import { ROOT } from '../helpers/procs.js';

type Ev = { kind: RecordKind; time: number; bytes: Buffer };

/** The records of `evs` as chunks, a new chunk starting before each event whose index is in `cuts`. */
function chunks(evs: Ev[], cuts: Set<number>): Buffer[] {
  const out: Buffer[] = [];
  let buf = Buffer.alloc(0);
  evs.forEach((e, i) => {
    if (cuts.has(i) && buf.length) {
      out.push(buf);
      buf = Buffer.alloc(0);
    }
    const rec = Buffer.alloc(RECORD_HEAD + e.bytes.length);
    expect(putRecord(rec, 0, e.kind, e.time, e.bytes)).toBe(rec.length);
    buf = Buffer.concat([buf, rec]);
  });
  if (buf.length) out.push(buf);
  return out;
}

/** What the recorder wrote before the worker: each read encoded in place, in order. */
function reference(evs: Ev[]): string {
  const out = new CastEncoder();
  const inp = new CastEncoder();
  let text = '';
  for (const e of evs) {
    if (e.kind === 'l') text += e.bytes.toString('utf8');
    else text += (e.kind === 'o' ? out : inp).bytes(e.time, e.kind, e.bytes)?.toString('utf8') ?? '';
  }
  return text;
}

const unit = fc.constantFrom('a', ' ', '"', '\\', '\n', '\r', '\x1b', '\x00', 'é', '€', '😀');
/** Events from text cut into reads at arbitrary byte offsets (so characters split across reads and chunks). */
const eventsArb = fc
  .array(fc.record({ kind: fc.constantFrom<RecordKind>('o', 'o', 'i', 'l'), text: fc.array(unit, { minLength: 1, maxLength: 30 }), cut: fc.nat({ max: 40 }) }), { maxLength: 12 })
  .map((raw) => {
    const evs: Ev[] = [];
    raw.forEach((r, i) => {
      const time = i * 0.125;
      const text = r.text.join('');
      if (r.kind === 'l') return evs.push({ kind: 'l', time, bytes: Buffer.from(eventLine(time, 'm', text)) });
      const b = Buffer.from(text);
      const at = Math.min(r.cut, b.length);
      for (const part of [b.subarray(0, at), b.subarray(at)]) if (part.length) evs.push({ kind: r.kind, time, bytes: Buffer.from(part) });
    });
    return evs;
  });

describe('recording chunks (raw records, rendered off the terminal thread)', () => {
  it('render to the same asciicast text as encoding each read in place, wherever the chunks are cut', () => {
    fc.assert(
      fc.property(eventsArb, fc.array(fc.nat({ max: 30 }), { maxLength: 8 }), (evs, cutList) => {
        const r = new ChunkRenderer();
        const got = chunks(evs, new Set(cutList)).map((c) => r.render(c).toString('utf8')).join('');
        expect(got).toBe(reference(evs));
      }),
      { numRuns: 400 },
    );
  });

  it('a chunk that ends inside a record, or holds an unknown kind, is an error, not a wrong line', () => {
    const rec = Buffer.alloc(RECORD_HEAD + 5);
    putRecord(rec, 0, 'o', 1, Buffer.from('hello'));
    expect(() => new ChunkRenderer().render(rec.subarray(0, rec.length - 1))).toThrow(/ends inside a record/);
    rec[0] = 0x7a;
    expect(() => new ChunkRenderer().render(rec)).toThrow(/unknown kind/);
  });
});

describe('the recording worker (a real thread)', () => {
  const { dir, cleanup } = tempDir('cmdop-recworker-');
  const made: RecordingCompressor[] = [];
  const compressor = (file?: string) => {
    const c = new RecordingCompressor(file);
    made.push(c);
    return c;
  };
  const compress = (c: RecordingCompressor, id: number, raw: Buffer) =>
    new Promise<{ text: string; textBytes: number }>((resolve, reject) =>
      c.compress(id, raw, (err, gz, textBytes) => (err ? reject(err) : resolve({ text: gunzipSync(gz!).toString('utf8'), textBytes: textBytes! }))),
    );
  const chunkOf = (evs: Ev[]) => chunks(evs, new Set())[0]!;
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of made.splice(0)) await c.close();
  });
  afterAll(() => cleanup());

  it("compresses each recording's chunks in order, keeping a character split across two chunks whole", async () => {
    const c = compressor();
    const e = Buffer.from('é');
    // Recording 1 ends its first chunk half-way into 'é'; recording 2's chunk comes between.
    const one = compress(c, 1, chunkOf([{ kind: 'o', time: 0.5, bytes: Buffer.from([0x61, e[0]!]) }]));
    const two = compress(c, 2, chunkOf([{ kind: 'o', time: 0.75, bytes: Buffer.from([e[0]!]) }]));
    const three = compress(c, 1, chunkOf([{ kind: 'o', time: 1, bytes: Buffer.from([e[1]!, 0x62]) }]));
    const [a, b, d] = await Promise.all([one, two, three]);
    expect(a.text).toBe(eventLine(0.5, 'o', 'a'));
    expect(b.text).toBe(''); // only the start of a character so far: nothing to write yet
    expect(d.text).toBe(eventLine(1, 'o', 'éb'));
    expect([a.textBytes, b.textBytes, d.textBytes]).toEqual([Buffer.byteLength(a.text), 0, Buffer.byteLength(d.text)]);
    expect(c.running).toBe(true);
  });

  it('moves a chunk that owns its memory to the thread and back for the next chunk, and copies a view into a shared buffer', async () => {
    const c = compressor();
    const owned = Buffer.allocUnsafe(600_000); // a size no fresh buffer below has
    const rec = chunkOf([{ kind: 'o', time: 2, bytes: Buffer.from('moved') }]);
    const end = rec.copy(owned);
    const moved = compress(c, 1, owned.subarray(0, end));
    expect(owned.buffer.byteLength).toBe(0); // transferred, not copied
    const pooled = Buffer.from(rec); // a small Buffer: a slice of the shared pool
    const copied = compress(c, 2, pooled);
    expect(pooled.buffer.byteLength).toBeGreaterThan(0);
    expect((await moved).text).toBe(eventLine(2, 'o', 'moved'));
    expect((await copied).text).toBe(eventLine(2, 'o', 'moved'));
    // The moved chunk's memory came back: the next chunk buffer is it, whole, and is taken once.
    expect(c.buffer(500_000).length).toBe(600_000);
    expect(c.buffer(500_000).length).toBe(500_000);
  });

  it('a thread that dies fails the chunks in flight with the reason, and the next chunk starts another', async () => {
    const dies = join(dir, 'dies.mjs');
    writeFileSync(dies, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(7));\n");
    const c = compressor(dies);
    const raw = () => chunkOf([{ kind: 'o', time: 0, bytes: Buffer.from('x') }]);
    const first = [compress(c, 1, raw()), compress(c, 1, raw())];
    for (const p of first) await expect(p).rejects.toThrow(/the recording worker stopped: exit code 7/);
    expect(c.running).toBe(false);
    await expect(compress(c, 1, raw())).rejects.toThrow(/exit code 7/); // a new thread was started, and died too
    const missing = compressor(join(dir, 'no-such-worker.js'));
    await expect(compress(missing, 1, raw())).rejects.toThrow(/the recording worker stopped/);
  });

  it('a chunk in flight keeps the process alive until it is compressed (an agent that stops still writes its last chunk)', async () => {
    const root = join(ROOT, 'dist', 'src', 'agent', 'recordings');
    const script = [
      `import { RecordingCompressor } from ${JSON.stringify(join(root, 'compressor.js'))};`,
      `import { putRecord } from ${JSON.stringify(join(root, 'chunk.js'))};`,
      'const chunk = (s) => { const raw = Buffer.alloc(64); return raw.subarray(0, putRecord(raw, 0, "o", 1, Buffer.from(s))); };',
      'const c = new RecordingCompressor();',
      // The thread is up and idle when the last chunk goes, on a later turn: then nothing else holds the process.
      'c.compress(1, chunk("first"), () => setImmediate(() => c.compress(1, chunk("last words"), (err, gz) => console.log(err ? err.message : "compressed " + gz.length))));',
    ].join('\n');
    const file = join(dir, 'last-chunk.mjs');
    writeFileSync(file, script);
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [file], { env: { ...process.env, CMDOP_RECORDING_WORKER: join(root, 'worker.js') } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out).toMatch(/^compressed \d+\n$/);
  });

  it('the thread stops once no recording has been live for IDLE_MS, and a later chunk starts it again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = compressor();
    const raw = () => chunkOf([{ kind: 'o', time: 3, bytes: Buffer.from('idle') }]);
    await compress(c, 1, raw());
    const owned = Buffer.allocUnsafe(600_000); // its memory comes back, and waits for a next chunk
    await compress(c, 2, owned.subarray(0, raw().copy(owned)));
    c.drop(1);
    vi.advanceTimersByTime(IDLE_MS);
    expect(c.running).toBe(true); // recording 2 is still live
    c.drop(2);
    vi.advanceTimersByTime(IDLE_MS - 1);
    expect(c.running).toBe(true);
    vi.advanceTimersByTime(1);
    expect(c.running).toBe(false);
    expect(c.buffer(500_000).length).toBe(500_000); // not the 600,000 bytes: they went with the thread
    expect((await compress(c, 3, raw())).text).toBe(eventLine(3, 'o', 'idle'));
    expect(c.running).toBe(true);
  });
});
