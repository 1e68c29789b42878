/** `cmdop-relay serve --ui`: the web console on the relay's own port, signed in with API keys. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ConsoleHttp } from '../console/server/console-http.js';
import type { ConsoleSession } from '../console/server/sessions.js';
import type { CmdopError } from '../errors.js';
import type { RelayState } from './state.js';

export function relayConsole(state: RelayState, secure: boolean): ConsoleHttp {
  const view = (k: { id: string; name: string; expiresMs: number | null }) => ({ keyId: k.id, name: k.name, expiresMs: k.expiresMs });
  return new ConsoleHttp(
    {
      signInWithKey: async (key) => view(await state.verifyKeyFresh(key)),
      keyOf: (id) => view(state.keyInForce(id)),
    },
    secure,
    () => state.now(),
    undefined,
    secure,
  );
}

/** Admits a browser's link upgrade with its session, or answers 401/403 and closes the socket. */
export function admitConsoleLink(ui: ConsoleHttp, req: IncomingMessage, socket: Duplex, go: (s: ConsoleSession) => void): void {
  let s: ConsoleSession;
  try {
    s = ui.admitLink(req);
  } catch (err) {
    const status = (err as CmdopError).code === 'permission' ? '403 Forbidden' : '401 Unauthorized';
    return void socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  go(s);
}
