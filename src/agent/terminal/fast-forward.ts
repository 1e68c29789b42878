/**
 * Fast-forward for floods of plain text, pure. Feeding a headless terminal costs about a core
 * at pty speed, but when a burst of output is only printable characters and CR LF, everything
 * but its last lines is scrolled away: the screen and scrollback after it depend only on those
 * last lines. `plainTextCut` finds where such a burst can start being parsed; the bytes before
 * it change nothing the snapshot shows. (The caller checks the emulator state that makes this
 * hold: normal buffer, full-screen scroll region, no origin mode.)
 */

const CR = 0x0d;
const LF = 0x0a;

/** True for bytes that print or end a line and change no terminal mode. */
function plain(b: number): boolean {
  return (b >= 0x20 && b !== 0x7f) || b === CR || b === LF;
}

/**
 * Offset to start parsing from, so that at least `keepLines` CR LF line ends are parsed, or 0
 * when nothing can be skipped (too few lines, or a control byte or escape in the part to skip).
 * The cut falls right after a CR LF.
 */
export function plainTextCut(data: Uint8Array, keepLines: number): number {
  let lines = 0;
  let cut = -1;
  for (let i = data.length - 1; i > 0; i--) {
    if (data[i] === LF && data[i - 1] === CR) {
      if (++lines > keepLines) {
        cut = i + 1;
        break;
      }
    }
  }
  if (cut <= 0) return 0;
  for (let i = 0; i < cut; i++) if (!plain(data[i]!)) return 0;
  return cut;
}
