/** A rendering terminal client for tests: a TerminalStream drawn into a headless xterm. */
import { createHash } from 'node:crypto';
import xterm from '@xterm/headless';
import type { TerminalStream } from '../../src/client/terminal-stream.js';

export interface Rendered {
  term: InstanceType<typeof xterm.Terminal>;
  bytes: () => Buffer;
  text: () => string;
  /** Visible rows once everything received so far is drawn. */
  screen: () => Promise<string[]>;
}

export function render(t: TerminalStream, cols = 80, rows = 24): Rendered {
  const term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: 1000 });
  const chunks: Buffer[] = [];
  t.onOutput((b) => {
    chunks.push(Buffer.from(b));
    term.write(b);
  });
  t.onSnapshot((s) => term.resize(s.cols, s.rows));
  t.onResize((c, r) => term.resize(c, r));
  return {
    term,
    bytes: () => Buffer.concat(chunks),
    text: () => Buffer.concat(chunks).toString('utf8'),
    screen: () =>
      new Promise((resolve) =>
        term.write('', () => {
          const b = term.buffer.active;
          const out: string[] = [];
          for (let y = 0; y < term.rows; y++) out.push(b.getLine(b.viewportY + y)?.translateToString(true) ?? '');
          resolve(out);
        }),
      ),
  };
}

/** What a lossless-resume test checks: every live byte at the offset it claims, in order. */
export interface Tap {
  bytes: () => number;
  /** Chunks whose offset was not where the previous one ended. */
  holes: () => number;
  gaps: Array<[number, number]>;
  reconnects: () => number;
  sha256: () => string;
}

export function tap(t: TerminalStream): Tap {
  let bytes = 0;
  let holes = 0;
  let reconnects = 0;
  const gaps: Array<[number, number]> = [];
  const hash = createHash('sha256');
  t.onLiveOutput((b, at) => {
    if (at !== bytes) holes++;
    hash.update(b);
    bytes += b.length;
  });
  t.onGap((from, to) => gaps.push([from, to]));
  t.onReconnect(() => reconnects++);
  return { bytes: () => bytes, holes: () => holes, gaps, reconnects: () => reconnects, sha256: () => hash.digest('hex') };
}
