/**
 * The agent's local socket: the same protocol as the relay link, on a Unix socket (0600, in a
 * 0700 directory) or a named pipe on Windows, for clients on this host. File permissions are the
 * authentication. A discovery file says where the socket is.
 */
import { wsTransport } from '../../link/ws-transport.js';
import { Acceptor } from '../../link/handshake.js';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../log.js';
import { ProtocolError, ValidationError } from '../../errors.js';
import { MAX_FRAME_BYTES, MAX_STREAMS_PER_LINK } from '../../protocol/limits.js';
import type { Stream } from '../../protocol/stream.js';
import { Link } from '../../link/link.js';
import { writeFileAtomic } from '../../platform/atomic.js';
import type { DiscoveryInfo } from '../../link/discovery.js';
import { VERSION } from '../../version.js';

/** Local links ping at this interval (a dead local client is noticed within two). */
const LOCAL_HEARTBEAT_MS = 15_000;

export interface LocalServerOptions {
  socketPath: string;
  /** Discovery file to write (agent.info beside the socket by default). */
  infoPath?: string;
  log: Logger;
  machineId: () => string;
  onStream: (stream: Stream, link: Link) => void;
  /** The gRPC endpoint for the official SDK, named in the discovery file (see link/discovery.ts). */
  grpc?: Pick<DiscoveryInfo, 'transport' | 'address'>;
}

export class LocalServer {
  private server: Server | null = null;
  private readonly links = new Set<Link>();
  readonly infoPath: string;

  constructor(private readonly o: LocalServerOptions) {
    this.infoPath = o.infoPath ?? join(dirname(o.socketPath), 'agent.info');
  }

  async start(): Promise<void> {
    const path = this.o.socketPath;
    if (process.platform !== 'win32') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // A socket file left by a killed agent blocks listen(); a live agent would own the discovery file.
      if (existsSync(path)) rmSync(path, { force: true });
    }
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
    const server = createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ValidationError(`cannot listen on ${path}: ${err.message}`)));
      server.listen(path, () => resolve());
    });
    if (process.platform !== 'win32') chmodSync(path, 0o600);
    this.server = server;
    const now = Date.now();
    const info: DiscoveryInfo = { version: VERSION, pid: process.pid, ...this.o.grpc, startedAt: new Date(now).toISOString(), socket: path, machineId: this.o.machineId(), startedMs: now };
    mkdirSync(dirname(this.infoPath), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.infoPath, JSON.stringify(info, null, 2) + '\n', { durable: false }); // rewritten at every start
  }

  /** Streams open on local links. */
  get streams(): number {
    let n = 0;
    for (const l of this.links) n += l.mux.size;
    return n;
  }

  async stop(): Promise<void> {
    for (const l of this.links) l.close();
    this.links.clear();
    rmSync(this.infoPath, { force: true });
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(ws: import('ws').WebSocket): void {
    const localId = randomBytes(6).toString('hex');
    const link: Link = new Link(wsTransport(ws), {
      dialer: false,
      log: this.o.log,
      heartbeatMs: LOCAL_HEARTBEAT_MS,
      maxStreams: MAX_STREAMS_PER_LINK,
      onStream: (s) => {
        if (!handshake.accepted) return link.close(new ProtocolError('stream before the handshake'));
        s.info.caller = `local/${localId}`;
        s.info.caps = undefined; // the socket's owner: no relay scoped this stream
        this.o.onStream(s, link);
      },
      onControl: (f) => handshake.onControl(f),
    });
    // Local clients are trusted by the socket's file permissions: a Hello of a known version is enough.
    const handshake: Acceptor = new Acceptor(link, {
      side: 'agent',
      log: this.o.log,
      onHello: () => handshake.accept({ software: `cmdop-agent/${VERSION}`, heartbeatMs: LOCAL_HEARTBEAT_MS, machineId: this.o.machineId() }),
    });
    this.links.add(link);
    link.onClose(() => this.links.delete(link));
  }

}
