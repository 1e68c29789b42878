/** `cmdop-relay serve --ui`: the web console on the relay's own port, signed in with API keys. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ConsoleHttp } from '../console/server/console-http.js';
import { join } from 'node:path';
import type { ConsoleSession, SessionStore } from '../console/server/sessions.js';
import { readJsonFile, writeFileAtomic } from '../platform/atomic.js';
import type { CmdopError } from '../errors.js';
import type { RelayState } from './state.js';

/** Sessions survive a relay restart: their digests (never a cookie) in the data dir, mode 0600. */
function sessionFile(dataDir: string): SessionStore {
  const path = join(dataDir, 'console-sessions.json');
  return { load: () => readJsonFile<Record<string, ConsoleSession>>(path), save: (all) => writeFileAtomic(path, JSON.stringify(all), { mode: 0o600 }) };
}

export function relayConsole(state: RelayState, secure: boolean, dataDir: string): ConsoleHttp {
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
    sessionFile(dataDir),
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
