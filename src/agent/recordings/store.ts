/**
 * The agent's session recordings on disk: `<dir>/<session>.cast.gz` and its `<session>.json`
 * (what list and get answer). Starts a recorder for each terminal session in the configured mode,
 * reports a failure as a `recording.failed` audit event, and applies the retention policy (age,
 * then total size, oldest first; a recording in progress is never removed).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import type { cmdop } from '../../protocol/gen/cmdop.js';
import { NotFoundError, UnavailableError, ValidationError } from '../../errors.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import { SessionRecorder } from './recorder.js';
import { describeWriteError } from './write-error.js';

export const RECORDING_MODES = ['best-effort', 'strict', 'off'] as const;
export type RecordingMode = (typeof RECORDING_MODES)[number];
/** How often the retention policy runs (it also runs at start). */
const SWEEP_MS = 3600_000;
const ID = /^[0-9a-f-]{36}$/;

export interface RecordingsConfig {
  dir: string;
  mode: RecordingMode;
  input: boolean;
  /** Compressed bytes per session. */
  maxBytes: number;
  /** Days a finished recording is kept (0 = forever). */
  retentionDays: number;
  /** Bytes all finished recordings may take together (0 = no limit). */
  maxTotalBytes: number;
}

/** What a session tells its recorder about itself, and the hooks back into it. */
export interface RecordedSession {
  id: string;
  cols: number;
  rows: number;
  shell: string;
  hostname: string;
  term: string;
  pause(): void;
  resume(): void;
  /** Strict mode: a recording that fails mid-session ends the session. */
  close(): void;
}

export type RecordingInfo = cmdop.v1.IRecordingInfo;

export class RecordingStore {
  private readonly live = new Map<string, { rec: SessionRecorder; s: RecordedSession }>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    readonly cfg: RecordingsConfig,
    private readonly log: Logger,
    private readonly audit: (type: string, fields: Record<string, unknown>) => void,
    private readonly now: () => number = Date.now,
  ) {
    if (!(RECORDING_MODES as readonly string[]).includes(cfg.mode)) throw new ValidationError(`recording mode is ${RECORDING_MODES.join(', ')}; got ${JSON.stringify(cfg.mode)}`);
    if (cfg.mode === 'off') return;
    try {
      mkdirSync(cfg.dir, { recursive: true, mode: 0o700 });
      this.recoverInterrupted();
      this.sweep();
    } catch (err) {
      this.log.warn({ dir: cfg.dir, err: describeWriteError(err) }, 'recordings directory unusable');
    }
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /**
   * The recorder for a session starting now, or null (mode off, or a best-effort recording that
   * could not start: reported, and the session goes on). Strict mode throws instead.
   */
  start(s: RecordedSession): SessionRecorder | null {
    if (this.cfg.mode === 'off') return null;
    let rec: SessionRecorder;
    try {
      rec = new SessionRecorder(
        { path: this.castPath(s.id), header: { version: 2, width: s.cols, height: s.rows, env: { SHELL: s.shell, TERM: s.term }, title: `${s.hostname}: ${s.shell}` }, maxBytes: this.cfg.maxBytes, input: this.cfg.input, now: this.now },
        {
          pause: () => s.pause(),
          resume: () => s.resume(),
          failed: (reason) => this.failed(s, reason),
          ended: () => this.ended(s.id),
        },
      );
      this.live.set(s.id, { rec, s });
      this.writeMeta(s.id);
    } catch (err) {
      const reason = describeWriteError(err);
      this.audit('recording.failed', { session: s.id, reason, mode: this.cfg.mode, at: 'start' });
      if (this.cfg.mode === 'strict') {
        throw new UnavailableError(`recording is required here and cannot be written (${reason}); the session was not started`, { detail: 'recording_failed' });
      }
      this.log.warn({ session: s.id, reason }, 'terminal session not recorded');
      return null;
    }
    return rec;
  }

  list(): RecordingInfo[] {
    const out: RecordingInfo[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.cfg.dir);
    } catch {
      return out;
    }
    for (const n of names) {
      if (!n.endsWith('.json') || !ID.test(n.slice(0, -5))) continue; // indexes only (not segment indexes)
      const info = this.info(n.slice(0, -5));
      if (info) out.push(info);
    }
    return out.sort((a, b) => Number(a.startedMs) - Number(b.startedMs));
  }

  get(id: string): RecordingInfo {
    const info = ID.test(id) ? this.info(id) : null;
    if (!info) throw new NotFoundError(`no recording of session ${id}`, { detail: 'recording_not_found' });
    return info;
  }

  /** A recording's file, how much of it is complete gzip members, and whether it is finished. */
  file(id: string): { path: string; size: number; finished: boolean } {
    const info = this.get(id);
    return { path: this.castPath(id), size: Number(info.bytes), finished: info.status !== 'recording' };
  }

  /** The file to read (its flushed part, while recording). */
  castPath(id: string): string {
    return join(this.cfg.dir, `${id}.cast.gz`);
  }

  /** Writes out what each live recorder holds (tests and shutdown). */
  flushAll(): void {
    for (const { rec } of this.live.values()) rec.flush();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Retention: finished recordings past their age, then the oldest past the total size. */
  sweep(): void {
    const done = this.list().filter((r) => r.status !== 'recording' && !this.live.has(r.sessionId!));
    let kept = done;
    if (this.cfg.retentionDays > 0) {
      const cutoff = this.now() - this.cfg.retentionDays * 86_400_000;
      kept = done.filter((r) => (Number(r.endedMs) || Number(r.startedMs)) >= cutoff || !this.remove(r.sessionId!, 'age'));
    }
    if (this.cfg.maxTotalBytes > 0) {
      let total = kept.reduce((n, r) => n + Number(r.bytes), 0);
      for (const r of kept) {
        if (total <= this.cfg.maxTotalBytes) break;
        if (this.remove(r.sessionId!, 'size')) total -= Number(r.bytes);
      }
    }
  }

  private remove(id: string, why: string): boolean {
    try {
      rmSync(this.castPath(id), { force: true });
      rmSync(join(this.cfg.dir, `${id}.json`), { force: true });
      rmSync(`${this.castPath(id)}.segments.json`, { force: true });
      this.log.info({ session: id, why }, 'recording removed by retention');
      return true;
    } catch {
      return false;
    }
  }

  private info(id: string): RecordingInfo | null {
    const l = this.live.get(id);
    if (l) return this.liveInfo(id, l.rec, l.s);
    try {
      return JSON.parse(readFileSync(join(this.cfg.dir, `${id}.json`), 'utf8')) as RecordingInfo;
    } catch {
      return null;
    }
  }

  private liveInfo(id: string, rec: SessionRecorder, s: RecordedSession): RecordingInfo {
    const end = rec.endedMs || this.now();
    return {
      sessionId: id,
      status: rec.status,
      error: rec.error,
      startedMs: rec.startedMs,
      endedMs: rec.endedMs,
      cols: s.cols,
      rows: s.rows,
      shell: s.shell,
      hostname: s.hostname,
      bytes: rec.bytes,
      castBytes: rec.castBytes,
      durationSec: (end - rec.startedMs) / 1000,
      input: rec.recordsInput,
    };
  }

  private writeMeta(id: string): boolean {
    const l = this.live.get(id);
    if (!l) return true;
    try {
      writeFileAtomic(join(this.cfg.dir, `${id}.json`), JSON.stringify(this.liveInfo(id, l.rec, l.s)), { durable: false });
      return true;
    } catch (err) {
      this.log.warn({ session: id, err: describeWriteError(err) }, 'recording index not written');
      return false;
    }
  }

  private failed(s: RecordedSession, reason: string): void {
    this.audit('recording.failed', { session: s.id, reason, mode: this.cfg.mode, at: 'write' });
    this.log.warn({ session: s.id, reason, mode: this.cfg.mode }, 'terminal recording failed');
    if (this.cfg.mode === 'strict') s.close();
  }

  /** A recording that ended leaves memory once its index is on disk (a full disk may refuse even that). */
  private ended(id: string): void {
    if (this.writeMeta(id)) this.live.delete(id);
  }

  /** Recordings left `recording` by a crash: their file is what was flushed; they say so. */
  private recoverInterrupted(): void {
    for (const r of this.list()) {
      if (r.status !== 'recording') continue;
      let bytes = Number(r.bytes);
      try {
        bytes = statSync(this.castPath(r.sessionId!)).size;
      } catch {
        // the index outlived its file
      }
      const fixed = { ...r, status: 'interrupted', error: 'the agent stopped while recording', bytes, endedMs: r.endedMs || r.startedMs };
      writeFileAtomic(join(this.cfg.dir, `${r.sessionId}.json`), JSON.stringify(fixed), { durable: false });
    }
  }
}
