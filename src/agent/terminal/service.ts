/** The terminal service's methods, registered on the agent's service registry. */
import { cmdop } from '../../protocol/gen/cmdop.js';
import { decodeRequest } from '../../link/services.js';
import { asCmdopError } from '../../errors.js';
import { frameMessage, MSG_OUTPUT, MSG_RESULT } from '../../protocol/messages.js';
import type { Logger } from '../../log.js';
import type { ServiceRegistry } from '../../link/services.js';
import { handleAttach } from './attach.js';
import { execute } from './execute.js';
import { historyWindow } from './ring.js';
import type { Sessions } from './sessions.js';

const v1 = cmdop.v1;
const EMPTY = v1.Empty.encode({}).finish();

export interface TerminalCtx {
  log: Logger;
  sessions: Sessions;
  execMaxOutput: number;
  /** Set for every command the agent runs: CMDOP_HOSTNAME (as SSH_CONNECTION tells a command where it runs). */
  commandEnv: Readonly<Record<string, string>>;
}

export function registerTerminal<C extends TerminalCtx>(r: ServiceRegistry<C>): ServiceRegistry<C> {
  const info = (s: { info(): cmdop.v1.ISessionInfo }) => v1.SessionInfo.encode(s.info()).finish();
  return r
    .unary('terminal', 'create', v1.CreateSessionRequest, (req, ctx) => info(ctx.sessions.create(req)))
    .unary('terminal', 'list', v1.Empty, (_req, ctx) => v1.ListSessionsResponse.encode({ sessions: ctx.sessions.list().map((s) => s.info()) }).finish())
    .unary('terminal', 'get', v1.SessionRef, (req, ctx) => v1.SessionInfo.encode(ctx.sessions.get(req.sessionId).info(true)).finish())
    .unary('terminal', 'active', v1.Empty, (_req, ctx) => info(ctx.sessions.active()))
    .unary('terminal', 'close', v1.SessionRef, (req, ctx) => {
      ctx.sessions.close(req.sessionId);
      return EMPTY;
    })
    .unary('terminal', 'input', v1.InputRequest, async (req, ctx) => {
      const session = ctx.sessions.get(req.sessionId);
      await new Promise<void>((resolve) => session.write(req.data, resolve));
      return EMPTY;
    })
    .unary('terminal', 'resize', v1.ResizeRequest, (req, ctx) => {
      ctx.sessions.get(req.sessionId).resize(req.cols, req.rows);
      return EMPTY;
    })
    .unary('terminal', 'signal', v1.SignalRequest, (req, ctx) => {
      ctx.sessions.get(req.sessionId).signal(req.signal, { jobOnly: req.jobOnly });
      return EMPTY;
    })
    .unary('terminal', 'history', v1.HistoryRequest, (req, ctx) => {
      const ring = ctx.sessions.get(req.sessionId).ring;
      const w = historyWindow(ring, req.fromOffset ?? undefined, Number(req.maxBytes));
      const data = ring.since(w.from, w.to)!;
      return v1.HistoryResponse.encode({ data, startOffset: w.from, endOffset: w.to, truncated: w.from > 0, outputOffset: ring.end }).finish();
    })
    .stream('terminal', 'attach', (stream, ctx) => handleAttach(stream, ctx))
    .unary('terminal', 'execute', v1.ExecuteRequest, async (req, ctx) => {
      const chunks: Uint8Array[] = [];
      const ex = execute(req, (c) => chunks.push(c), Number(req.maxOutput) || ctx.execMaxOutput, ctx.commandEnv);
      const result = await ex.done;
      return v1.ExecuteResponse.encode({ output: Buffer.concat(chunks), result }).finish();
    })
    .stream('terminal', 'execute.stream', (stream, ctx) => {
      const req = decodeRequest(v1.ExecuteRequest, stream);
      // Streaming output is flow-controlled, not capped.
      const ex = execute(req, (c) => {
        if (!stream.write(frameMessage(MSG_OUTPUT, c))) ex.pause();
      }, Number.MAX_SAFE_INTEGER, ctx.commandEnv);
      stream.handle({
        onDrain: () => ex.resume(),
        onClose: (err) => {
          if (err) ex.kill();
        },
      });
      ex.done.then(
        (result) => {
          stream.write(frameMessage(MSG_RESULT, v1.ExecuteResult.encode(result).finish()));
          stream.end();
        },
        (err) => stream.abort(asCmdopError(err, 'terminal.execute.stream')),
      );
    });
}
