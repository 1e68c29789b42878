/**
 * `cmdop ui [--port N] [--no-open] [--local]`: the web console on 127.0.0.1, speaking to the relay
 * with this operator's credentials and pinned certificate (or, with --local, to the agent on this
 * host through its local socket). It prints a sign-in URL whose code is
 * single-use and lives a minute (any local user can reach a loopback port), exchanged at once
 * for an HttpOnly session cookie.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';
import { Client } from '../../client/client.js';
import { ConsoleHttp, CONSOLE_LINK_PATH } from '../../console/server/console-http.js';
import { bridgeBrowserLink } from '../../console/server/bridge.js';
import { MAX_FRAME_BYTES } from '../../protocol/limits.js';
import { silentLogger } from '../../log.js';
import { openUrl } from '../../platform/open-url.js';

const OPERATOR = { keyId: 'operator', name: 'this operator (cmdop ui)', expiresMs: null };

export const uiCommand: Command = {
  name: 'ui',
  summary: 'the web console in your browser, on 127.0.0.1, with your credentials',
  usage: 'cmdop ui [--port N] [--no-open] [--local]',
  options: { ...CONNECT, port: { type: 'string' }, 'no-open': { type: 'boolean' }, local: { type: 'boolean' } },
  async run(v) {
    const port = v.port === undefined ? 0 : Number(v.port);
    if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new UsageError('--port takes a port number');
    const local = !!v.local;
    const client = local ? await Client.local() : await connect(v);
    const log = silentLogger();
    const ui = new ConsoleHttp({ keyOf: () => OPERATOR, codeKey: () => OPERATOR }, false);
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
    const server = createServer((req, res) => {
      if (!ui.handle(req, res)) res.writeHead(302, { location: '/ui/' }).end();
    });
    server.on('upgrade', (req, socket, head) => {
      try {
        if ((req.url ?? '').split('?')[0] !== CONSOLE_LINK_PATH) throw new UsageError('not found');
        ui.admitLink(req);
      } catch {
        return void socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
      wss.handleUpgrade(req, socket, head, (ws) => bridgeBrowserLink(ws, client, log, { local }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ui/signin?code=${ui.sessions.newCode()}`;
    process.stdout.write(`cmdop console on http://127.0.0.1:${(server.address() as AddressInfo).port}/ui/\nsign in (once, within a minute): ${url}\n`);
    if (!v['no-open']) openUrl(url);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    server.close();
    await client.close();
  },
};
