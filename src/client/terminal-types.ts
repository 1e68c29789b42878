/** Plain types the terminal namespace returns. */
import type { cmdop } from '../protocol/gen/cmdop.js';

export interface AttachedClient {
  id: string;
  role: 'operator' | 'observer';
  since: Date;
}

export interface TerminalSessionInfo {
  id: string;
  /** pending | connected | grace_period | disconnected | exited */
  status: string;
  hostname: string;
  createdAt: Date;
  connectedAt: Date | null;
  lastActivity: Date;
  attachedClients: AttachedClient[];
  cols: number;
  rows: number;
  shell: string;
  pid: number;
  exited: boolean;
  exitCode: number;
  exitSignal: string;
  /** Bytes of output the session has produced. */
  outputOffset: number;
  /** From getSession() only: a job other than the shell holds the terminal's foreground now. */
  busy?: boolean;
}

export function toSessionInfo(s: cmdop.v1.ISessionInfo): TerminalSessionInfo {
  return {
    id: s.id ?? '',
    status: s.status ?? '',
    hostname: s.hostname ?? '',
    createdAt: new Date(s.createdMs ?? 0),
    connectedAt: s.connectedMs ? new Date(s.connectedMs) : null,
    lastActivity: new Date(s.lastActivityMs ?? 0),
    attachedClients: (s.clients ?? []).map((c) => ({ id: c.id ?? '', role: c.role === 'observer' ? 'observer' : 'operator', since: new Date(c.sinceMs ?? 0) })),
    cols: s.cols ?? 0,
    rows: s.rows ?? 0,
    shell: s.shell ?? '',
    pid: s.pid ?? 0,
    exited: !!s.exited,
    exitCode: s.exitCode ?? 0,
    exitSignal: s.exitSignal ?? '',
    outputOffset: Number(s.outputOffset ?? 0),
    ...(s.busy ? { busy: true } : {}),
  };
}

export interface ExecuteOptions {
  /** ms; default 30000. */
  timeout?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Default /bin/sh (no login profile). */
  shell?: string;
  /** Bytes of output kept; the rest is cut and `truncated` is set. */
  maxOutput?: number;
}

export interface ExecuteResult {
  /** stdout and stderr, interleaved as produced. */
  output: string;
  exitCode: number;
  signal: string;
  truncated: boolean;
}

export interface CreateSessionOptions {
  shell?: string;
  args?: string[];
  cols?: number;
  rows?: number;
  cwd?: string;
  env?: Record<string, string>;
  scrollbackBytes?: number;
}
