/**
 * One SSH session channel: env (under an allowlist), pty, window changes, signals, and then a
 * shell, an exec or the sftp subsystem. A shell, or an exec with a pty, is one of the agent's
 * terminal sessions (listed, attachable, observable, resumable); an exec without a pty is a plain
 * process with stdout and stderr apart and its exit status. Agent forwarding and X11 are refused.
 */
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import picomatch from 'picomatch';
import type { ServerChannel, Session } from 'ssh2';
import { cmdop } from '../../protocol/gen/cmdop.js';
import type { Logger } from '../../log.js';
import { OWN_GROUP, signalGroup } from '../../platform/process.js';
import type { Sessions } from '../terminal/sessions.js';
import type { TerminalSession } from '../terminal/session.js';
import type { FilesPolicy } from '../files/policy.js';
import type { Allowlist } from '../tunnel/allowlist.js';
import { serveSftp } from './sftp.js';

export interface SshSessionCtx {
  log: Logger;
  sessions: Sessions;
  policy: FilesPolicy;
  allow: Allowlist;
  commandEnv: Readonly<Record<string, string>>;
  /** Names of variables a client may set (SendEnv); globs, e.g. LANG, LC_*. */
  envAllow: readonly string[];
  /** An SSH session whose client is gone is closed after this (unless someone attached meanwhile). */
  detachedGraceMs: number;
  audit: (type: string, caller: string, fields: Record<string, unknown>) => void;
}

export interface ChannelCtx extends SshSessionCtx {
  may: (cap: string) => boolean;
  caller: string;
}

interface Pty {
  term: string;
  cols: number;
  rows: number;
}

const logRefusal = (ctx: ChannelCtx, what: string, cap: string) => ctx.log.warn({ caller: ctx.caller, cap }, `ssh ${what} refused: the key lacks the ${cap} grant`);

/** A pty or subsystem the key may not have: the request is refused (the client says so). */
const refuse = (reject: (() => void) | undefined, ctx: ChannelCtx, what: string, cap: string) => {
  logRefusal(ctx, what, cap);
  reject?.();
};

/** A shell or exec the key may not run: the channel opens and says why, in one line, then exits 1. */
function explain(channel: ServerChannel, ctx: ChannelCtx, what: string, cap: string): void {
  logRefusal(ctx, what, cap);
  channel.stderr.write(`cmdop-agent: permission: this key lacks the ${cap} grant on this machine (needed for ${what})\r\n`);
  channel.exit(1);
  channel.end();
}

export function serveSession(session: Session, ctx: ChannelCtx): void {
  const env: Record<string, string> = {};
  let pty: Pty | null = null;
  let onResize: ((cols: number, rows: number) => void) | null = null;
  let onSignal: ((name: string) => void) | null = null;
  const envMatch = picomatch(ctx.envAllow.length ? [...ctx.envAllow] : ['__none__']);

  session.on('env', (accept, reject, info) => {
    if (envMatch(info.key) && !info.key.includes('=')) {
      env[info.key] = info.val;
      accept?.();
    } else reject?.();
  });
  session.on('pty', (accept, reject, info) => {
    if (!ctx.may('terminal')) return refuse(reject, ctx, 'pty', 'terminal');
    pty = { term: info.term || 'xterm-256color', cols: info.cols || 80, rows: info.rows || 24 };
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    if (pty) pty = { ...pty, cols: info.cols, rows: info.rows };
    onResize?.(info.cols, info.rows);
    accept?.();
  });
  session.on('signal', (accept, _reject, info) => {
    onSignal?.(`SIG${info.name}`);
    accept?.();
  });
  session.on('auth-agent', (_accept, reject) => reject?.());
  session.on('x11', (_accept, reject) => reject?.());

  session.on('shell', (accept) => {
    const channel = accept();
    if (!ctx.may('terminal')) return explain(channel, ctx, 'a shell', 'terminal');
    const hooks = terminalChannel(channel, ctx, pty ?? { term: 'xterm-256color', cols: 80, rows: 24 }, env, null);
    if (hooks) ({ onResize, onSignal } = hooks);
  });
  session.on('exec', (accept, _reject, info) => {
    const channel = accept();
    if (!ctx.may('exec')) return explain(channel, ctx, 'a command', 'exec');
    ctx.audit('ssh.exec', ctx.caller, { command: info.command, pty: !!pty });
    if (pty) {
      const hooks = terminalChannel(channel, ctx, pty, env, info.command);
      if (hooks) ({ onResize, onSignal } = hooks);
    } else onSignal = execChannel(channel, ctx, env, info.command);
  });
  session.on('sftp', (accept, reject) => {
    if (!ctx.may('files:read') && !ctx.may('files:write')) return refuse(reject, ctx, 'sftp', 'files:read');
    ctx.audit('ssh.sftp', ctx.caller, {});
    serveSftp(accept(), ctx);
  });
}

/** A shell (command null) or a command in a pty: one of our terminal sessions. */
function terminalChannel(channel: ServerChannel, ctx: ChannelCtx, pty: Pty, env: Record<string, string>, command: string | null): { onResize: (c: number, r: number) => void; onSignal: (n: string) => void } | null {
  let s: TerminalSession;
  try {
    s = ctx.sessions.create(
      new cmdop.v1.CreateSessionRequest({
        cols: pty.cols,
        rows: pty.rows,
        env: { ...ctx.commandEnv, ...env, TERM: pty.term },
        ...(command !== null ? { shell: process.platform === 'win32' ? 'cmd.exe' : '/bin/sh', args: process.platform === 'win32' ? ['/c', command] : ['-c', command] } : {}),
      }),
    );
  } catch (err) {
    channel.stderr.write(`cmdop-agent: ${(err as Error).message}\r\n`);
    channel.exit(1);
    channel.end();
    return null;
  }
  if (command === null) ctx.audit('ssh.shell', ctx.caller, { session: s.id });
  const id = `ssh/${s.id.slice(0, 8)}/${Math.random().toString(36).slice(2, 8)}`;
  let sent = 0; // output offset sent so far: batched chunks that overlap what went out early are trimmed
  const client = {
    id,
    role: 'operator' as const,
    sinceMs: Date.now(),
    output(chunk: Uint8Array, at: number) {
      const skip = sent - at;
      if (skip >= chunk.length) return;
      sent = at + chunk.length;
      if (!channel.write(skip > 0 ? chunk.subarray(skip) : chunk)) s.pause(id);
    },
    event() {},
  };
  channel.on('drain', () => s.resume(id));
  s.attach(client);
  // What the pty printed before we attached (the shell's first prompt) goes out first.
  const early = s.ring.since(s.ring.start);
  sent = s.ring.end;
  if (early?.length) channel.write(early);
  channel.on('data', (d: Buffer) => s.write(d));
  const offExit = s.onExit(() => {
    s.flushOutput();
    const e = s.exit!;
    if (e.signal) channel.exit(e.signal.replace(/^SIG/, ''), false, '');
    else channel.exit(e.code);
    channel.end();
  });
  channel.on('close', () => {
    offExit();
    s.detach(client);
    if (s.exit) return;
    // The client went away with the session running: it stays for resume, then closes like sshd's.
    const t = setTimeout(() => {
      if (!s.exit && s.info().clients!.length === 0) s.close();
    }, ctx.detachedGraceMs);
    t.unref();
  });
  return { onResize: (cols, rows) => s.resize(cols, rows), onSignal: (name) => s.signal(name) };
}

/** A command without a pty: stdin, stdout and stderr apart, its exit code or signal. */
function execChannel(channel: ServerChannel, ctx: ChannelCtx, env: Record<string, string>, command: string): (name: string) => void {
  const shell = process.platform === 'win32' ? 'cmd.exe' : process.env.SHELL || '/bin/sh';
  const args = process.platform === 'win32' ? ['/d', '/s', '/c', command] : ['-c', command];
  const child = spawn(shell, args, { cwd: ctx.policy.roots[0] ?? homedir(), env: { ...process.env, ...ctx.commandEnv, ...env }, stdio: ['pipe', 'pipe', 'pipe'], ...OWN_GROUP });
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });
  channel.pipe(child.stdin);
  child.stdin.on('error', () => {});
  let exited = false;
  child.on('error', (err) => {
    channel.stderr.write(`cmdop-agent: cannot run ${shell}: ${err.message}\n`);
    channel.exit(127);
    channel.end();
  });
  child.on('close', (code, signal) => {
    exited = true;
    if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
    else channel.exit(code ?? 0);
    channel.end();
  });
  channel.on('close', () => {
    if (!exited) signalGroup(child.pid, 'SIGHUP', () => child.kill('SIGHUP'));
  });
  return (name) => {
    if (!exited) signalGroup(child.pid, name as NodeJS.Signals, () => child.kill(name as NodeJS.Signals));
  };
}
