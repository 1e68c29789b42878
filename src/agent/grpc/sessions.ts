/**
 * Terminal sessions for the official SDK: create, find by hostname, list, status, input, output by
 * offset (output.ts), resize, signal, close. Every call goes through our SDK to the agent's own
 * socket, so it is the same session (listed, attachable, observed, audited) as any other.
 */
import { constants, platform } from 'node:os';
import type { terminal } from './gen/terminal.js';
import type { TerminalSessionInfo } from '../../client/terminal-types.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { VERSION } from '../../version.js';
import { timestamp, type GrpcCtx } from './context.js';
import { outputRead } from './output.js';
import { envelopeId } from './execute-watch.js';

const live = (s: TerminalSessionInfo) => !s.exited && s.status !== 'exited';
const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

function item(s: TerminalSessionInfo, hostname: string): terminal.ISessionInfoItem {
  return {
    sessionId: s.id,
    machineHostname: hostname,
    machineName: hostname,
    status: live(s) ? 'connected' : 'disconnected',
    os: platform(),
    agentVersion: VERSION,
    heartbeatAgeSeconds: 0,
    hasShell: live(s),
    shell: s.shell,
    workingDirectory: '',
    connectedAt: timestamp(s.createdAt),
  };
}

/** Does `name` name this machine (case-insensitive; partial: a substring of it)? */
export function hostnameMatches(ours: string, name: string, partial: boolean): boolean {
  const a = ours.toLowerCase();
  const b = name.toLowerCase().trim();
  if (!b) return true;
  return partial ? a.includes(b) : a === b;
}

export function sessionHandlers(ctx: GrpcCtx) {
  const terminal = async () => (await ctx.client()).terminal;
  return {
    async CreateSession(req: terminal.CreateSessionRequest): Promise<terminal.ICreateSessionResponse> {
      const c = req.config;
      const s = await (await terminal()).create({
        ...(c?.shell ? { shell: c.shell } : {}),
        ...(c?.workingDirectory ? { cwd: c.workingDirectory } : {}),
        env: c?.env ?? {},
        ...(c?.size?.cols ? { cols: c.size.cols } : {}),
        ...(c?.size?.rows ? { rows: c.size.rows } : {}),
      });
      return { success: true, sessionId: s.id };
    },

    async CloseSession(req: terminal.CloseSessionRequest): Promise<terminal.ICloseSessionResponse> {
      await (await terminal()).close(req.sessionId);
      ctx.watch.closed(req.sessionId);
      return { success: true };
    },

    async GetSessionStatus(req: terminal.GetSessionStatusRequest): Promise<terminal.IGetSessionStatusResponse> {
      let s: TerminalSessionInfo;
      try {
        s = await (await terminal()).getSession(req.sessionId);
      } catch (err) {
        if (err instanceof NotFoundError) return { exists: false };
        throw err;
      }
      const status = live(s) ? 2 /* CONNECTED */ : 4; /* DISCONNECTED */
      return { exists: true, status, agentHostname: ctx.hostname, connectedAt: timestamp(s.createdAt), lastHeartbeatAt: timestamp(s.lastActivity), commandsCount: 0 };
    },

    async ListSessions(req: terminal.ListSessionsRequest): Promise<terminal.IListSessionsResponse> {
      if (!hostnameMatches(ctx.hostname, req.hostnameFilter, true)) return { sessions: [], total: 0, workspaceName: ctx.hostname };
      let all = (await (await terminal()).listSessions()).map((s) => item(s, ctx.hostname));
      if (req.statusFilter) all = all.filter((s) => s.status === req.statusFilter);
      const offset = Math.max(0, req.offset);
      const page = all.slice(offset, req.limit > 0 ? offset + req.limit : undefined);
      return { sessions: page, total: all.length, workspaceName: ctx.hostname };
    },

    /**
     * This machine's newest live session; with none, one is created (a shell), so that
     * `setMachine(hostname)` then `execute()` works on a fresh agent as it does on the cloud.
     */
    async GetSessionByHostname(req: terminal.GetSessionByHostnameRequest): Promise<terminal.IGetSessionByHostnameResponse> {
      if (!hostnameMatches(ctx.hostname, req.hostname, req.partialMatch)) return { found: false, error: `no machine named "${req.hostname}" here: this agent is ${ctx.hostname}` };
      const t = await terminal();
      const running = (await t.listSessions()).filter(live).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
      const s = running[0] ?? (await t.create({}));
      return {
        found: true,
        sessionId: s.id,
        machineHostname: ctx.hostname,
        machineName: ctx.hostname,
        status: 'connected',
        connectedAt: timestamp(s.createdAt),
        hasShell: true,
        shell: s.shell,
        os: platform(),
        agentVersion: VERSION,
        matchesCount: 1,
      };
    },

    async SendInput(req: terminal.SendInputRequest): Promise<terminal.ISendInputResponse> {
      const t = await terminal();
      const id = envelopeId(Buffer.from(req.data).toString('utf8'));
      if (id) ctx.watch.started({ id, sessionId: req.sessionId, fromOffset: (await t.getSession(req.sessionId)).outputOffset });
      await t.sendInput(req.sessionId, req.data);
      return { success: true };
    },

    async SendResize(req: terminal.SendResizeRequest): Promise<terminal.ISendResizeResponse> {
      await (await terminal()).resize(req.sessionId, req.cols, req.rows);
      return { success: true };
    },

    async SendSignal(req: terminal.SendSignalRequest): Promise<terminal.ISendSignalResponse> {
      const name = SIGNAL_NAMES.get(req.signal);
      if (!name) throw new ValidationError(`unknown signal number ${req.signal}`, { detail: 'unknown_signal' });
      await (await terminal()).sendSignal(req.sessionId, name);
      return { success: true };
    },

    async GetOutput(req: terminal.GetOutputRequest): Promise<terminal.IGetOutputResponse> {
      const h = await (await terminal()).getHistory(req.sessionId, outputRead(req.offset, req.limit));
      ctx.watch.polled(req.sessionId, Buffer.from(h.data).toString('latin1'));
      return { data: h.data, totalBytes: h.outputOffset, hasMore: h.endOffset < h.outputOffset };
    },
  };
}
