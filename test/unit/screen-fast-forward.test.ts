/**
 * Fast-forward must be invisible: a screen fed a flood with fast-forward gives exactly the
 * snapshot a plain emulator fed every byte gives. Real @xterm/headless on both sides.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type * as XtermHeadless from '@xterm/headless';
import type * as XtermSerialize from '@xterm/addon-serialize';
import { dropFront, isPlain, plainTextCut, plainTextCutParts } from '../../src/agent/terminal/fast-forward.js';
import { Screen, SNAPSHOT_SCROLLBACK_LINES } from '../../src/agent/terminal/screen.js';

const require = createRequire(import.meta.url);
const { Terminal } = require('@xterm/headless') as typeof XtermHeadless;
const { SerializeAddon } = require('@xterm/addon-serialize') as typeof XtermSerialize;
const bytes = (s: string) => Buffer.from(s, 'utf8');

/** What a plain emulator, fed every byte, serializes. */
function reference(cols: number, rows: number, chunks: Uint8Array[]): Promise<string> {
  const term = new Terminal({ cols, rows, allowProposedApi: true, scrollback: SNAPSHOT_SCROLLBACK_LINES });
  const ser = new SerializeAddon();
  term.loadAddon(ser);
  for (const c of chunks) term.write(c);
  return new Promise((resolve) => term.write(new Uint8Array(0), () => {
    resolve(ser.serialize({ scrollback: SNAPSHOT_SCROLLBACK_LINES }));
    term.dispose();
  }));
}

/** Feeds a Screen; after the chunks at `settleAt` (fractions of the way) it waits for a snapshot, as an attach would. */
async function viaScreen(cols: number, rows: number, chunks: Uint8Array[], settleAt: number[] = []): Promise<{ text: string; skipped: number; offset: number }> {
  const screen = new Screen(cols, rows);
  const settle = new Set(settleAt.map((f) => Math.floor(f * chunks.length)));
  for (let i = 0; i < chunks.length; i++) {
    screen.write(chunks[i]!);
    if (settle.has(i)) await screen.snapshot();
  }
  const snap = await screen.snapshot();
  const skipped = screen.skipped;
  screen.dispose();
  return { text: Buffer.from(snap.data).toString('utf8'), skipped, offset: snap.offset };
}

describe('fast-forward scans', () => {
  it('isPlain refuses ESC, SO, SI and C1 controls, and accepts text, CR LF, TAB, BS and other UTF-8', () => {
    expect(isPlain(bytes('hello\r\n\tworld\b! é ° 日本 🎉'))).toBe(true);
    for (const bad of ['a\x1b[31mb', 'a\x0eb', 'a\x0fb', 'a\u009bb', 'a\u0090b']) expect(isPlain(bytes(bad))).toBe(false);
    // A C1 lead byte cut off at the end might be a control.
    expect(isPlain(Buffer.from([0x61, 0xc2]))).toBe(false);
    expect(isPlain(Buffer.from([0x61, 0xc2, 0x9b]), 2)).toBe(false);
  });

  it('plainTextCut keeps exactly the last keepLines plain CR LF lines before any state change', () => {
    const text = bytes(Array.from({ length: 10 }, (_, i) => `line ${i}\r\n`).join('') + 'tail');
    const cut = plainTextCut(text, 3);
    expect(text.subarray(cut).toString()).toBe('line 7\r\nline 8\r\nline 9\r\ntail');
    expect(plainTextCut(text, 10)).toBe(0);
    expect(plainTextCut(bytes('\x1b[1m' + text.toString()), 3)).toBe(0);
    // Lines after a state change (a scroll region here) do not count: they may not scroll.
    expect(plainTextCut(bytes(text.toString() + '\x1b[2;10r' + text.toString()), 3)).toBe(text.indexOf('line 7'));
    // Bare LF (raw mode) does not count as a line end.
    expect(plainTextCut(bytes('a\nb\nc\nd\ne\n'), 2)).toBe(0);
  });

  it('over the reads as they came, the cut is the one over the joined bytes (a part ending in a UTF-8 lead byte may only cut earlier)', () => {
    const piece = fc.constantFrom('ab', '\r\n', '\r', '\n', 'é', '\u0090', '\x1b[1m', 'xyz\r\n', '\t', '日本');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 0, max: 6 }), (ps, cutsRaw, keep) => {
        const all = bytes(ps.join(''));
        const cuts = [...new Set(cutsRaw.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
        const parts: Uint8Array[] = [];
        let at = 0;
        for (const c of [...cuts, all.length]) {
          parts.push(all.subarray(at, c));
          at = c;
        }
        const whole = plainTextCut(all, keep);
        const split = plainTextCutParts(parts, keep);
        if (parts.slice(0, -1).some((p) => p.length > 0 && p[p.length - 1] === 0xc2)) expect(split).toBeLessThanOrEqual(whole);
        else expect(split).toBe(whole);
        const left = [...parts];
        dropFront(left, split);
        expect(Buffer.concat(left).equals(all.subarray(split))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('screen fast-forward', () => {
  const line = (i: number) => `row ${i} ${'x'.repeat(i % 150)}\r\n`;

  it('a plain flood is mostly skipped and the snapshot is byte-identical to a full parse', async () => {
    const flood = bytes('\x1b[1;32mgreen\x1b[0m start\r\n' + Array.from({ length: 30_000 }, (_, i) => line(i)).join('') + '\x1b[1mprompt$ ');
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < flood.length; i += 4096) chunks.push(flood.subarray(i, i + 4096));
    const got = await viaScreen(120, 40, chunks, [0]);
    expect(got.text).toBe(await reference(120, 40, chunks));
    expect(got.offset).toBe(flood.length);
    expect(got.skipped).toBeGreaterThan(flood.length / 2);
  });

  it('any mix of text, colours, charset shifts, C1, split UTF-8 and escapes cut anywhere renders identically', async () => {
    const piece = fc.oneof(
      fc.integer({ min: 0, max: 1500 }).map((n) => Array.from({ length: n }, (_, i) => line(i)).join('')),
      fc.constantFrom('\x1b[31m', '\x1b[0m', '\x0e', '\x0f', '\u009b1m', '\x1b(0', '\x1b(B', '\x1b[2;10r', '\x1b[r', '\x1b[?6h', '\x1b[?6l', '\x1b[?1049h', '\x1b[?1049l', '\x1b]0;title\x07', '日本語 🎉 é\r\n', '\x1b[H\x1b[2J', 'a\bb\tc\r\n'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 70_000 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { maxLength: 4 }), async (pieces, cutEvery, settleAt) => {
        const all = bytes(pieces.join(''));
        const chunks: Uint8Array[] = [];
        for (let i = 0; i < all.length; i += cutEvery) chunks.push(all.subarray(i, i + cutEvery));
        const got = await viaScreen(80, 24, chunks, settleAt);
        expect(got.text).toBe(await reference(80, 24, chunks));
        expect(got.offset).toBe(all.length);
      }),
      { numRuns: 40 },
    );
    // Bounded by its case count; the timeout only catches a hang (a loaded CI core runs this several times slower).
  }, 300_000);
});
