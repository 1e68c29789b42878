/**
 * The asciicast v2 core: lines we write parse back to the same events, a reader fed any split
 * and any coalescing of the text sees the same events, malformed input is a typed error, and the
 * playback clock applies speed and the idle-time limit. Property tests are bounded by case count.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CastReader, eventLine, headerLine, parseCast, PlaybackClock, type CastEvent } from '../../src/protocol/asciicast.js';
import { ValidationError } from '../../src/errors.js';

const header = headerLine({ version: 2, width: 80, height: 24, timestamp: 1_700_000_000, env: { TERM: 'xterm-256color' } });
const eventArb = fc.record({
  dt: fc.integer({ min: 0, max: 5_000_000 }),
  code: fc.constantFrom('o' as const, 'i' as const, 'm' as const),
  data: fc.string({ unit: 'binary', maxLength: 40 }),
});

function castOf(evs: Array<{ dt: number; code: 'o' | 'i' | 'm'; data: string }>): { text: string; events: CastEvent[] } {
  let t = 0;
  const events: CastEvent[] = [];
  let text = header;
  for (const e of evs) {
    t += e.dt / 1e6;
    const time = Number(t.toFixed(6));
    events.push({ time, code: e.code, data: e.data });
    text += eventLine(t, e.code, e.data);
  }
  return { text, events };
}

describe('asciicast v2', () => {
  it('events round-trip through lines, whatever the data (control bytes, quotes, newlines, astral characters)', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (evs) => {
        const { text, events } = castOf(evs);
        const parsed = parseCast(text);
        expect(parsed.header).toMatchObject({ version: 2, width: 80, height: 24 });
        expect(parsed.events).toEqual(events);
      }),
      { numRuns: 200 },
    );
  });

  it('a reader sees the same events for every split of the text and any coalescing', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (evs, cuts) => {
        const { text, events } = castOf(evs);
        const got: CastEvent[] = [];
        const r = new CastReader((e) => got.push(e));
        let at = 0;
        for (let i = 0; at < text.length; i++) {
          const n = cuts[i % cuts.length]!;
          r.push(text.slice(at, at + n));
          at += n;
        }
        r.end();
        expect(got).toEqual(events);
      }),
      { numRuns: 200 },
    );
    // And split at every single boundary of one cast.
    const { text, events } = castOf([{ dt: 1, code: 'o', data: 'héllo\r\n\u{1F600}"x"' }, { dt: 2, code: 'm', data: 'attach operator a' }]);
    for (let cut = 0; cut <= text.length; cut++) {
      const got: CastEvent[] = [];
      const r = new CastReader((e) => got.push(e));
      r.push(text.slice(0, cut));
      r.push(text.slice(cut));
      r.end();
      expect(got).toEqual(events);
    }
  });

  it('malformed input is a ValidationError bad_asciicast that names the line, never a crash', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /no header/],
      ['{"version":1,"width":80,"height":24}\n', /line 1: version is 1/],
      ['{"version":2,"width":0,"height":24}\n', /width is not a positive integer/],
      ['[1,2,3]\n', /header is not an object/],
      [`${header}[0.1, "o"]\n`, /line 2: an event is \[time, code, data\]/],
      [`${header}[0.1, "x", "a"]\n`, /unknown event code/],
      [`${header}[-1, "o", "a"]\n`, /time is not a non-negative number/],
      [`${header}[0.1, "o", 5]\n`, /data is not a string/],
      [`${header}[0.1, "r", "80 by 24"]\n`, /a resize is COLSxROWS/],
      [`${header}[2, "o", "a"]\n[1, "o", "b"]\n`, /line 3: time goes back/],
      [`${header}[0.1, "o", "a"`, /ends inside a line/],
      [`${header}{nope\n`, /line 2: not JSON/],
    ];
    for (const [text, why] of cases) {
      let err: unknown;
      try {
        parseCast(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).detail).toBe('bad_asciicast');
      expect((err as Error).message).toMatch(why);
    }
    // Random bytes after a valid header: either events or a typed error, nothing else.
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (junk) => {
        try {
          parseCast(header + junk);
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the playback clock applies speed and caps idle gaps', () => {
    const c = new PlaybackClock(2, 1);
    const at = [0, 0.5, 10, 10.2].map((t) => c.next(t));
    [0, 0.25, 0.75, 0.85].forEach((want, i) => expect(at[i]).toBeCloseTo(want, 9));
    const plain = new PlaybackClock();
    expect([1, 3].map((t) => plain.next(t))).toEqual([1, 3]);
    expect(() => new PlaybackClock(0)).toThrow(ValidationError);
    expect(() => new PlaybackClock(1, -1)).toThrow(ValidationError);
  });
});

describe('the agent encoder (bytes straight to event lines)', async () => {
  const { CastEncoder, incompleteTail } = await import('../../src/agent/recordings/encode.js');

  it('gives the same line as eventLine for any UTF-8 text, however the bytes are split across reads', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }), (text, cuts) => {
        const bytes = Buffer.from(text);
        const enc = new CastEncoder();
        let got = '';
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          const line = enc.bytes(1.5, 'o', bytes.subarray(at, at + n));
          if (line) got += parseCast(header + line.toString('utf8')).events[0]!.data;
          at += n;
        }
        expect(got).toBe(text);
        // And one read is exactly the line eventLine writes.
        if (bytes.length) expect(new CastEncoder().bytes(1.5, 'o', bytes)!.toString('utf8')).toBe(eventLine(1.5, 'o', text));
      }),
      { numRuns: 400 },
    );
  });

  it('escapes every byte JSON requires at any offset in a read, as eventLine does', () => {
    // Text dense in what the four-bytes-at-a-time path must catch: controls, quotes, backslashes,
    // beside multi-byte characters, so that each lands at every position of a word.
    const unit = fc.constantFrom('a', 'b', ' ', '"', '\\', '\n', '\r', '\t', '\x1b', '\x00', '\x1f', '\x7f', 'é', '€', '😀', '\u2028');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 200 }), fc.nat({ max: 7 }), (units, lead) => {
        const text = units.join('');
        const bytes = Buffer.from('x'.repeat(lead) + text).subarray(lead);
        if (bytes.length) expect(new CastEncoder().bytes(0.25, 'o', bytes)!.toString('utf8')).toBe(eventLine(0.25, 'o', text));
      }),
      { numRuns: 400 },
    );
  });

  it('a read that is not UTF-8 becomes replacement characters, never invalid JSON', () => {
    const line = new CastEncoder().bytes(0, 'o', Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x22]))!;
    expect(parseCast(header + line.toString('utf8')).events[0]!.data).toBe('a\ufffd\ufffdb"');
    expect(incompleteTail(Buffer.from('a\xe2\x82', 'latin1'))).toBe(2);
    expect(incompleteTail(Buffer.from('€'))).toBe(0);
    expect(incompleteTail(Buffer.from('😀').subarray(0, 3))).toBe(3);
  });
});
