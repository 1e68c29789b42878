/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/), the format of session
 * recordings: a JSON header line, then one JSON array per event, `[seconds, code, data]`, where
 * code is `o` (output), `i` (input), `r` (resize, "COLSxROWS") or `m` (marker). Pure: the agent
 * writes it, the SDK, `cmdop play` and the console read it (no Node built-ins, so it runs in the
 * browser too).
 */
import { ValidationError } from '../errors.js';

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp?: number;
  idle_time_limit?: number;
  title?: string;
  env?: Record<string, string>;
}

export type CastCode = 'o' | 'i' | 'r' | 'm';
export interface CastEvent {
  time: number;
  code: CastCode;
  data: string;
}

const CODES: ReadonlySet<string> = new Set(['o', 'i', 'r', 'm']);
/** A line longer than this is not a recording we wrote or can play (a writer's event is at most a pty read). */
export const MAX_CAST_LINE = 4 * 1024 * 1024;

export function headerLine(h: CastHeader): string {
  return `${JSON.stringify(h)}\n`;
}

/** One event line; time in seconds with microsecond precision, as asciinema writes it. */
export function eventLine(time: number, code: CastCode, data: string): string {
  return `[${time.toFixed(6)}, "${code}", ${JSON.stringify(data)}]\n`;
}

const bad = (line: number, why: string) => new ValidationError(`not asciicast v2: line ${line}: ${why}`, { detail: 'bad_asciicast' });

function parseJson(text: string, line: number): unknown {
  if (text.length > MAX_CAST_LINE) throw bad(line, `longer than ${MAX_CAST_LINE} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw bad(line, 'not JSON');
  }
}

export function parseHeader(text: string, line = 1): CastHeader {
  const h = parseJson(text, line) as Partial<CastHeader> | null;
  if (!h || typeof h !== 'object' || Array.isArray(h)) throw bad(line, 'the header is not an object');
  if (h.version !== 2) throw bad(line, `version is ${JSON.stringify(h.version)}, not 2`);
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(h[k]) || (h[k] as number) < 1) throw bad(line, `${k} is not a positive integer`);
  }
  return h as CastHeader;
}

export function parseEvent(text: string, line: number): CastEvent {
  const e = parseJson(text, line);
  if (!Array.isArray(e) || e.length !== 3) throw bad(line, 'an event is [time, code, data]');
  const [time, code, data] = e as unknown[];
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw bad(line, 'time is not a non-negative number');
  if (typeof code !== 'string' || !CODES.has(code)) throw bad(line, `unknown event code ${JSON.stringify(code)}`);
  if (typeof data !== 'string') throw bad(line, 'data is not a string');
  if (code === 'r' && !/^\d+x\d+$/.test(data)) throw bad(line, `a resize is COLSxROWS, got ${JSON.stringify(data)}`);
  return { time, code: code as CastCode, data };
}

/**
 * Reads a cast from text chunks as they arrive (any split, any coalescing): the header first,
 * then events. Times must not go backwards. `end()` checks the cast was not cut inside a line.
 */
export class CastReader {
  private pending = '';
  private line = 0;
  private last = 0;
  header: CastHeader | null = null;

  constructor(private readonly onEvent: (e: CastEvent) => void, private readonly onHeader: (h: CastHeader) => void = () => undefined) {}

  push(text: string): void {
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      const piece = this.pending + text.slice(from, nl);
      this.pending = '';
      from = nl + 1;
      this.take(piece);
    }
    this.pending += text.slice(from);
    if (this.pending.length > MAX_CAST_LINE) throw bad(this.line + 1, `longer than ${MAX_CAST_LINE} bytes`);
  }

  end(): void {
    if (this.pending.trim()) throw bad(this.line + 1, 'the recording ends inside a line');
    if (!this.header) throw bad(1, 'no header');
  }

  private take(text: string): void {
    this.line++;
    if (!text.trim()) return;
    if (!this.header) {
      this.header = parseHeader(text, this.line);
      this.onHeader(this.header);
      return;
    }
    const e = parseEvent(text, this.line);
    if (e.time < this.last) throw bad(this.line, `time goes back from ${this.last} to ${e.time}`);
    this.last = e.time;
    this.onEvent(e);
  }
}

/** A whole cast in memory (tests, small recordings). */
export function parseCast(text: string): { header: CastHeader; events: CastEvent[] } {
  const events: CastEvent[] = [];
  const r = new CastReader((e) => events.push(e));
  r.push(text);
  r.end();
  return { header: r.header!, events };
}

/**
 * When each event plays, in seconds from the start: at `speed` times real time, with every pause
 * longer than `idleLimit` seconds cut to it (asciinema's --idle-time-limit). Pure; `cmdop play`
 * and the console's player both schedule with it.
 */
export class PlaybackClock {
  private prev = 0;
  private at = 0;

  constructor(private readonly speed = 1, private readonly idleLimit = Infinity) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new ValidationError(`speed must be a positive number, got ${speed}`);
    if (!(idleLimit > 0)) throw new ValidationError(`idle time limit must be positive, got ${idleLimit}`);
  }

  /** The playback time of an event recorded at `time`. */
  next(time: number): number {
    const gap = Math.min(Math.max(0, time - this.prev), this.idleLimit);
    this.prev = time;
    this.at += gap / this.speed;
    return this.at;
  }
}
