/**
 * Fast-forward for floods of plain text, pure. Feeding a headless terminal costs about a core at
 * pty speed, but when a burst of output changes no terminal state beyond what it prints,
 * everything but its last lines is scrolled away: the screen and scrollback after it depend only
 * on those last lines. `plainTextCut` finds where such a burst can start being parsed; the bytes
 * before it change nothing a snapshot shows. The caller checks the emulator state that makes this
 * hold: parser in its ground state, normal buffer, full-screen scroll region, no origin mode.
 *
 * Every scan here is a native memchr (Buffer.indexOf), not a loop over bytes in JS.
 */

const CR = 0x0d;
const LF = 0x0a;
const ESC = 0x1b;
/** SO and SI switch character sets, which outlives the lines they are in. */
const SO = 0x0e;
const SI = 0x0f;
/** UTF-8 lead byte of U+0080..U+00BF; U+0080..U+009F are the C1 controls (CSI, OSC, DCS...). */
const C2 = 0xc2;

/**
 * `data` up to `end` as a Buffer, for its native searches. A pty read is a Buffer already, and the
 * line scan asks for each part once per line (a thousand times per trim): no new view for those.
 */
function view(data: Uint8Array, end: number): Buffer {
  return end === data.length && Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, end);
}

/**
 * Where the first byte that changes terminal state other than the cursor and the cells it prints
 * is: ESC, SO, SI or a C1 control; `end` when there is none. (BS, TAB, BEL and bare LF only move
 * the cursor or ring; they change no mode.)
 */
export function firstNonPlain(data: Uint8Array, end = data.length): number {
  const b = view(data, end);
  let first = end;
  for (const c of [ESC, SO, SI]) {
    const i = b.indexOf(c);
    if (i !== -1 && i < first) first = i;
  }
  for (let i = b.indexOf(C2); i !== -1 && i < first; i = b.indexOf(C2, i + 1)) {
    const next = i + 1 < end ? b[i + 1]! : -1;
    // A lead byte cut off at `end` might start a C1 control: not plain.
    if (next === -1 || (next >= 0x80 && next <= 0x9f)) first = i;
  }
  return first;
}

export function isPlain(data: Uint8Array, end = data.length): boolean {
  return firstNonPlain(data, end) === end;
}

/**
 * Offset to start parsing from, or 0 when nothing can be skipped. What is skipped is plain, and
 * is followed by at least `keepLines` more plain CR LF lines printed under the same state, which
 * scroll it out of the screen and scrollback; the first state change (an escape, say) and what
 * follows it are always parsed. The cut falls right after a CR LF, so the first line kept starts
 * at column 0.
 */
export function plainTextCut(data: Uint8Array, keepLines: number): number {
  return plainTextCutParts([data], keepLines);
}

/**
 * plainTextCut over output kept as the reads that brought it (`parts`, in order), without
 * joining them: the offset counts from the start of the first part.
 */
export function plainTextCutParts(parts: readonly Uint8Array[], keepLines: number): number {
  if (parts.length === 0) return 0;
  // Where the first state change is: part k, byte i (or the end of the last part).
  let k = parts.length - 1;
  let i = parts[k]!.length;
  for (let p = 0; p < parts.length; p++) {
    const f = firstNonPlain(parts[p]!);
    if (f < parts[p]!.length) {
      k = p;
      i = f;
      break;
    }
  }
  // Back from there, line by line: a LF counts when a CR is right before it (maybe in the part before).
  let lines = 0;
  for (;;) {
    const j = i > 0 ? view(parts[k]!, parts[k]!.length).lastIndexOf(LF, i - 1) : -1;
    if (j < 0) {
      if (--k < 0) return 0;
      i = parts[k]!.length;
      continue;
    }
    if (j === 0 && k === 0) return 0;
    const before = j > 0 ? parts[k]![j - 1] : parts[k - 1]![parts[k - 1]!.length - 1];
    if (before === CR && ++lines > keepLines) {
      let at = j + 1;
      for (let p = 0; p < k; p++) at += parts[p]!.length;
      return at;
    }
    i = j;
  }
}

/** Drops the first `n` bytes of `parts` in place (whole parts, then a view of the one cut). */
export function dropFront(parts: Uint8Array[], n: number): void {
  let whole = 0;
  while (whole < parts.length && n >= parts[whole]!.length) n -= parts[whole++]!.length;
  parts.splice(0, whole);
  if (n > 0) parts[0] = parts[0]!.subarray(n);
}
