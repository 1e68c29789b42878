/** The agent's terminal sessions: create, list, get, the active one, close. */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Logger } from '../../log.js';
import type { cmdop } from '../../protocol/gen/cmdop.js';
import { CmdopError, NotFoundError, RateLimitError, SessionNotFoundError, ValidationError } from '../../errors.js';
import type { RecordingStore } from '../recordings/store.js';
import { TerminalSession } from './session.js';
import { defaultShell } from './shell.js';

/** Scrollback kept per session unless the request or config says otherwise. */
export const DEFAULT_SCROLLBACK_BYTES = 1024 * 1024;
/** Largest scrollback a session may ask for. */
export const MAX_SCROLLBACK_BYTES = 64 * 1024 * 1024;
/** Sessions per agent. */
export const MAX_SESSIONS = 256;
/** An ended session stays listed (for its exit code and history) this long. */
export const EXITED_RETENTION_MS = 60_000;

export interface SessionsConfig {
  hostname: string;
  scrollbackBytes: number;
  /** Grace period after the last client leaves (status only; the session lives on). */
  graceMs: number;
  /** Close a session with no clients and no output for this long; 0 = never. */
  idleTimeoutMs: number;
  /** Where sessions are recorded (none: not recorded). */
  recordings?: RecordingStore;
}


export class Sessions {
  private readonly sessions = new Map<string, TerminalSession>();
  private readonly idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly cfg: SessionsConfig, private readonly log: Logger) {
    if (cfg.idleTimeoutMs > 0) {
      this.idleTimer = setInterval(() => this.reapIdle(), Math.min(cfg.idleTimeoutMs, 60_000));
      this.idleTimer.unref();
    }
  }

  create(req: cmdop.v1.CreateSessionRequest): TerminalSession {
    if (this.sessions.size >= MAX_SESSIONS) throw new RateLimitError(`too many terminal sessions (limit ${MAX_SESSIONS})`);
    const shell = req.shell || defaultShell();
    const cwd = req.cwd || homedir();
    if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new ValidationError(`working directory ${cwd} does not exist`);
    const scrollback = Number(req.scrollbackBytes) || this.cfg.scrollbackBytes;
    if (scrollback > MAX_SCROLLBACK_BYTES) throw new ValidationError(`scrollback may be at most ${MAX_SCROLLBACK_BYTES} bytes`);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, { TERM: 'xterm-256color', COLORTERM: 'truecolor' }, req.env);
    let s: TerminalSession;
    try {
      s = new TerminalSession(
        { shell, args: req.args, cols: req.cols || 80, rows: req.rows || 24, cwd, env, scrollbackBytes: scrollback, hostname: this.cfg.hostname, graceMs: this.cfg.graceMs, record: (r) => this.cfg.recordings?.start(r) ?? null },
        this.log,
      );
    } catch (err) {
      if (err instanceof CmdopError) throw err;
      throw new ValidationError(`cannot start ${shell}: ${(err as Error).message}`, { cause: err });
    }
    this.sessions.set(s.id, s);
    s.onExit(() => {
      const t = setTimeout(() => {
        this.sessions.delete(s.id);
        s.screen.dispose();
      }, EXITED_RETENTION_MS);
      t.unref();
    });
    this.log.info({ session: s.id, shell, pid: s.pid }, 'terminal session started');
    return s;
  }

  get(id: string): TerminalSession {
    const s = this.sessions.get(id);
    if (!s) throw new SessionNotFoundError(`no terminal session ${id}`);
    return s;
  }

  list(): TerminalSession[] {
    return [...this.sessions.values()].sort((a, b) => a.createdMs - b.createdMs);
  }

  /** The most recently active session that is still running. */
  active(): TerminalSession {
    const live = this.list().filter((s) => !s.exit);
    if (live.length === 0) throw new NotFoundError('no active terminal session', { detail: 'session_not_found' });
    return live.reduce((a, b) => (b.lastActivityMs > a.lastActivityMs ? b : a));
  }

  close(id: string): void {
    this.get(id).close();
  }

  closeAll(): void {
    clearInterval(this.idleTimer);
    for (const s of this.sessions.values()) s.close();
  }

  private reapIdle(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (!s.exit && s.status !== 'connected' && now - s.lastActivityMs > this.cfg.idleTimeoutMs) {
        this.log.info({ session: s.id }, 'closing idle terminal session');
        s.close();
      }
    }
  }
}
