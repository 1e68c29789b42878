/**
 * The local gRPC endpoint's listener: a 0600 Unix socket beside ours (a named pipe on Windows),
 * never the network; a loopback TCP port only where config names one. It is a plain net.Server,
 * so an agent nobody calls over gRPC never loads grpc-js or the generated types (about 23 MB of
 * RSS): the first connection loads them (server.ts), and every connection is handed to grpc-js's
 * HTTP/2 server once its first bytes are the HTTP/2 preface (garbage closes at once, silence
 * after 10 s). Connections are capped; past the cap they are refused.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../../log.js';
import { ValidationError } from '../../errors.js';
import type { DiscoveryInfo } from '../../link/discovery.js';
import { loopbackListen } from './listen.js';
import type { GrpcEndpoint, GrpcEndpointOptions } from './server.js';

export interface GrpcListenerOptions extends GrpcEndpointOptions {
  /** Unix socket path (or a named pipe on Windows). */
  socketPath: string;
  /** host:port on loopback instead of the socket (config `grpcListen`). */
  listen?: string;
}

/** Connections open at once (each an HTTP/2 session of up to 100 calls). */
export const MAX_GRPC_CONNECTIONS = 64;

export class GrpcListener {
  private server: Server | null = null;
  private endpoint: Promise<GrpcEndpoint> | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly o: GrpcListenerOptions) {}

  /** Connections open now. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Binds, and says where, for the discovery file. */
  async start(): Promise<Pick<DiscoveryInfo, 'transport' | 'address'>> {
    const server = createServer({ pauseOnConnect: true }, (s) => this.accept(s));
    server.maxConnections = MAX_GRPC_CONNECTIONS;
    let transport: 'unix' | 'pipe' | 'tcp';
    let listen: () => void;
    const bound = new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ValidationError(`cannot listen for gRPC on ${this.o.listen ?? this.o.socketPath}: ${err.message}`)));
      listen = () => server.once('listening', () => resolve());
    });
    if (this.o.listen) {
      const { host, port } = loopbackListen(this.o.listen);
      transport = 'tcp';
      listen!();
      server.listen(port, host);
    } else {
      transport = process.platform === 'win32' ? 'pipe' : 'unix';
      if (transport === 'unix') {
        mkdirSync(dirname(this.o.socketPath), { recursive: true, mode: 0o700 });
        if (existsSync(this.o.socketPath)) rmSync(this.o.socketPath, { force: true }); // left by a killed agent
      }
      listen!();
      server.listen(this.o.socketPath);
    }
    await bound;
    if (transport === 'unix') chmodSync(this.o.socketPath, 0o600);
    this.server = server;
    const a = server.address();
    const address = transport === 'tcp' && a && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : this.o.socketPath;
    return { transport, address };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    const endpoint = this.endpoint;
    this.endpoint = null;
    if (endpoint) await endpoint.then((e) => e.stop(), () => {});
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
    if (!this.o.listen && process.platform !== 'win32') rmSync(this.o.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (!this.endpoint) {
      this.endpoint = import('./server.js').then((m) => new m.GrpcEndpoint(this.o));
      this.endpoint.catch((err: Error) => this.o.log.error({ err: err.message }, 'the gRPC endpoint failed to load'));
    }
    Promise.all([this.endpoint, speaksHttp2(socket, PREFACE_MS)]).then(
      ([e, ok]) => {
        if (!ok || socket.destroyed || !this.server) return void socket.destroy();
        e.inject(socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  }
}

/** A gRPC client's first bytes: the HTTP/2 connection preface. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** How long a connection may take to send it. */
export const PREFACE_MS = 10_000;

/**
 * Reads until the client's first bytes show whether it speaks HTTP/2, and gives them back to the
 * socket: garbage is closed at once and a silent connection after `ms`, before grpc-js (which
 * would keep either open) sees it.
 */
export function speaksHttp2(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      if (got.length) socket.unshift(got);
      resolve(ok);
    };
    const onReadable = () => {
      for (let c: Buffer | null; (c = socket.read() as Buffer | null) !== null; ) got = Buffer.concat([got, c]);
      const n = Math.min(got.length, PREFACE.length);
      if (!got.subarray(0, n).equals(PREFACE.subarray(0, n))) return done(false);
      if (got.length >= PREFACE.length) done(true);
    };
    const onEnd = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
  });
}
