/**
 * The relay's listeners: the public HTTPS one (TLS 1.2+, AES-128-GCM first among the TLS 1.3
 * suites; plain HTTP only with --insecure) with its health and readiness answers, and the admin
 * socket (a 0600 Unix socket in the data dir). Upgrades are handed to the caller.
 */
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { DEFAULT_CIPHERS } from 'node:tls';
import { loadOrCreateTls, type TlsMaterial } from './tls.js';

/** Node's default list with the TLS 1.3 AES-128 suite first. */
const RELAY_CIPHERS = ['TLS_AES_128_GCM_SHA256', ...DEFAULT_CIPHERS.split(':').filter((c) => c !== 'TLS_AES_128_GCM_SHA256')].join(':');

/**
 * ALPN as a callback, not a list: given no list, Node's https server sets ['http/1.1'], and each
 * TLS socket it accepts then copies that 9-byte list with `Buffer.from`, a slice of Node's shared
 * 8 KB allocation pool, which the socket keeps for its life: a few long-lived sockets pin every
 * pool chunk made while they connected. Measured, one node of three with 3,333 simulated agents:
 * 1,366 pool chunks, 10.7 MB (3.3 KB per agent), held by nothing else. The callback negotiates the
 * same (http/1.1, or no ALPN when the client offers none) with no copy per socket.
 */
export const HTTP11_ALPN = { ALPNCallback: ({ protocols }: { protocols: string[] }) => (protocols.includes('http/1.1') ? 'http/1.1' : undefined) };

export type Upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Other pages on the public port (the web console); false when the path is not theirs. */
export type Pages = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface Health {
  /** Should a load balancer send links here now? */
  ready: boolean;
  body: Record<string, unknown>;
}

/** `/healthz` (liveness: 200 while the process answers) and `/readyz` (200 only when ready). */
function handler(health: () => Health, more: Pages) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (more(req, res)) return;
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz') return void res.writeHead(404).end();
    const h = health();
    res.writeHead(path === '/readyz' && !h.ready ? 503 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, ready: h.ready, ...h.body }));
  };
}

/**
 * The accept queue: a relay restart brings every agent back at once, and while the event loop is
 * busy with TLS handshakes the kernel holds the new connections here. Node's default (511) drops
 * the rest of the herd's SYNs, and each dropped agent waits out TCP's doubling SYN retry (1, 2,
 * 4, 8 s...). Measured at 4,000 simulated agents: cold enrolment 40 s with 511, see the README.
 * The kernel caps it at net.core.somaxconn (4096 on Linux >= 5.4).
 */
export const LISTEN_BACKLOG = 4096;

function listenOn(server: Server, ...args: [number, string] | [string]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (args.length === 2) server.listen({ port: args[0], host: args[1], backlog: LISTEN_BACKLOG }, done);
    else server.listen({ path: args[0], backlog: LISTEN_BACKLOG }, done);
  });
}

export interface PublicListenerOptions {
  dataDir: string;
  host: string;
  port: number;
  insecure: boolean;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export async function listenPublic(o: PublicListenerOptions, health: () => Health, upgrade: Upgrade, pages: Pages = () => false): Promise<{ server: Server; tls: TlsMaterial | null }> {
  let server: Server;
  let tls: TlsMaterial | null = null;
  if (o.insecure) {
    server = createHttpServer(handler(health, pages));
  } else {
    tls = await loadOrCreateTls(o.dataDir, o.certFile, o.keyFile);
    server = createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ciphers: RELAY_CIPHERS, honorCipherOrder: true, ...HTTP11_ALPN }, handler(health, pages));
  }
  server.on('upgrade', upgrade);
  await listenOn(server, o.port, o.host);
  return { server, tls };
}

export async function listenAdminSocket(path: string, upgrade: Upgrade): Promise<Server> {
  if (existsSync(path)) unlinkSync(path); // left by a relay that was killed
  const srv = createHttpServer((_req, res) => res.writeHead(404).end());
  srv.on('upgrade', upgrade);
  await listenOn(srv, path);
  chmodSync(path, 0o600);
  return srv;
}
