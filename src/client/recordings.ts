/**
 * `client.terminal.recordings`: the session recordings a machine keeps (asciicast v2, recorded
 * at the agent). No Node built-ins: the web console plays recordings through this same class.
 *
 * @example
 * const [last] = (await client.terminal.recordings.list()).slice(-1);
 * const { header, events } = await client.terminal.recordings.cast(last.sessionId);
 * for await (const e of events) if (e.code === 'o') process.stdout.write(e.data);
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { CastReader, type CastEvent, type CastHeader } from '../protocol/asciicast.js';
import { bytesOf } from '../link/stream-iter.js';
import type { Caller } from './caller.js';
import type { MachineTarget } from './target.js';

const v1 = cmdop.v1;
const EMPTY = v1.Empty.encode({}).finish();
/** Receive window of a recording read. */
const WINDOW = 4 * 1024 * 1024;

export interface RecordingInfo {
  sessionId: string;
  /** recording | complete | truncated | failed | interrupted */
  status: string;
  /** Why it failed or was cut short. */
  error: string;
  startedAt: Date;
  endedAt: Date | null;
  cols: number;
  rows: number;
  shell: string;
  hostname: string;
  /** Compressed size on the machine's disk, and the asciicast text it holds. */
  bytes: number;
  castBytes: number;
  durationSec: number;
  /** Keystrokes were recorded too. */
  input: boolean;
}

function toInfo(r: cmdop.v1.IRecordingInfo): RecordingInfo {
  return {
    sessionId: r.sessionId ?? '',
    status: r.status ?? '',
    error: r.error ?? '',
    startedAt: new Date(Number(r.startedMs ?? 0)),
    endedAt: Number(r.endedMs) ? new Date(Number(r.endedMs)) : null,
    cols: r.cols ?? 0,
    rows: r.rows ?? 0,
    shell: r.shell ?? '',
    hostname: r.hostname ?? '',
    bytes: Number(r.bytes ?? 0),
    castBytes: Number(r.castBytes ?? 0),
    durationSec: r.durationSec ?? 0,
    input: !!r.input,
  };
}

export class Recordings {
  constructor(private readonly caller: Caller, private readonly machine: MachineTarget) {}

  /** Every recording the machine keeps, oldest first. */
  async list(): Promise<RecordingInfo[]> {
    const res = v1.ListRecordingsResponse.decode(await this.caller.unary(this.machine.get(), 'terminal', 'recordings.list', EMPTY));
    return res.recordings.map(toInfo);
  }

  async get(sessionId: string): Promise<RecordingInfo> {
    return toInfo(v1.RecordingInfo.decode(await this.caller.unary(this.machine.get(), 'terminal', 'recordings.get', v1.SessionRef.encode({ sessionId }).finish())));
  }

  /**
   * The recording's bytes as they are stored (`gzip`: its gzip members, what `zcat` reads) or as
   * asciicast text; streamed under flow control, up to what the agent has written so far.
   */
  async stream(sessionId: string, o: { gzip?: boolean } = {}): Promise<AsyncIterable<Uint8Array>> {
    const request = v1.ReadRecordingRequest.encode({ sessionId, decompress: !o.gzip }).finish();
    return bytesOf(await this.caller.open({ target: this.machine.get(), service: 'terminal', method: 'recordings.read', request, end: true, window: WINDOW }));
  }

  /**
   * The recording cut into segments, as asciinema-player's segmented index (JSON): each segment
   * starts from a snapshot of the screen, so a player can seek without the events before it.
   */
  async segments(sessionId: string): Promise<string> {
    const res = v1.RecordingJson.decode(await this.caller.unary(this.machine.get(), 'terminal', 'recordings.segments', v1.SessionRef.encode({ sessionId }).finish()));
    return new TextDecoder().decode(res.json);
  }

  /** Segment `n` of the index above (JSON: its snapshot and its events). */
  async segment(sessionId: string, n: number): Promise<string> {
    const res = v1.RecordingJson.decode(await this.caller.unary(this.machine.get(), 'terminal', 'recordings.segment', v1.RecordingSegmentRequest.encode({ sessionId, segment: n }).finish()));
    return new TextDecoder().decode(res.json);
  }

  /** The recording parsed: its header, then its events as they stream in (checked as asciicast v2). */
  async cast(sessionId: string): Promise<{ header: CastHeader; events: AsyncIterable<CastEvent> }> {
    const it = (await this.stream(sessionId))[Symbol.asyncIterator]();
    const text = new TextDecoder('utf-8');
    let batch: CastEvent[] = [];
    const reader = new CastReader((e) => batch.push(e));
    while (!reader.header) {
      const r = await it.next();
      if (r.done) reader.end(); // throws: no header
      else reader.push(text.decode(r.value, { stream: true }));
    }
    const events = async function* (): AsyncGenerator<CastEvent> {
      for (;;) {
        const b = batch;
        batch = [];
        yield* b;
        const r = await it.next();
        if (r.done) {
          reader.push(text.decode());
          reader.end();
          yield* batch;
          return;
        }
        reader.push(text.decode(r.value, { stream: true }));
      }
    };
    return { header: reader.header, events: events() };
  }
}
