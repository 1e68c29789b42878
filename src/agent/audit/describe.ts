/**
 * What the agent records of a stream (pure): the relay sees only who opened what, so the agent
 * says what it was: the command line, the terminal and its size, the paths written or deleted,
 * the tunnel target, the prompt. Methods that change nothing (lists, reads of state) are not
 * recorded here; the relay's stream records cover them.
 */
import { cmdop } from '../../protocol/gen/cmdop.js';

const v1 = cmdop.v1;
type Describe = (req: Uint8Array) => Record<string, unknown>;

const DESCRIBE: Record<string, Describe> = {
  'terminal.create': (r) => {
    const q = v1.CreateSessionRequest.decode(r);
    return { shell: q.shell || 'login shell', args: q.args, cols: q.cols || 80, rows: q.rows || 24, cwd: q.cwd || undefined };
  },
  'terminal.attach': (r) => {
    const q = v1.AttachRequest.decode(r);
    return { session: q.sessionId, role: q.mode === v1.AttachMode.OBSERVER ? 'observer' : 'operator', cols: q.cols || undefined, rows: q.rows || undefined };
  },
  'terminal.close': (r) => ({ session: v1.SessionRef.decode(r).sessionId }),
  'terminal.input': (r) => {
    const q = v1.InputRequest.decode(r);
    return { session: q.sessionId, bytes: q.data.length };
  },
  'terminal.signal': (r) => {
    const q = v1.SignalRequest.decode(r);
    return { session: q.sessionId, signal: q.signal };
  },
  'terminal.execute': (r) => exec(r),
  'terminal.execute.stream': (r) => exec(r),
  'files.write': (r) => {
    const q = v1.WriteFileRequest.decode(r);
    return { path: q.path, overwrite: q.overwrite || undefined, offset: Number(q.offset) || undefined };
  },
  'files.delete': (r) => ({ path: v1.FilePathRequest.decode(r).path }),
  'files.mkdir': (r) => ({ path: v1.FilePathRequest.decode(r).path }),
  'files.copy': (r) => copy(r),
  'files.move': (r) => copy(r),
  'ssh.connect': () => ({}),
  'tunnel.connect': (r) => {
    const q = v1.TunnelConnectRequest.decode(r);
    return { target: `${q.host}:${q.port}` };
  },
  'ai.ask': (r) => {
    const q = v1.AskRequest.decode(r);
    return { prompt: q.prompt, session: q.sessionId || 'default', agentType: q.agentType || undefined };
  },
};

function exec(r: Uint8Array): Record<string, unknown> {
  const q = v1.ExecuteRequest.decode(r);
  return { command: q.command, cwd: q.cwd || undefined, shell: q.shell || undefined };
}

function copy(r: Uint8Array): Record<string, unknown> {
  const q = v1.CopyFileRequest.decode(r);
  return { from: q.src, to: q.dst };
}

/** The record for a stream, or null when the method is not one the agent records. */
export function describeStream(service: string, method: string, request: Uint8Array): { type: string; fields: Record<string, unknown> } | null {
  const name = `${service}.${method}`;
  const d = DESCRIBE[name];
  if (!d) return null;
  try {
    return { type: name, fields: d(request) };
  } catch {
    return { type: name, fields: { malformed: true } };
  }
}
