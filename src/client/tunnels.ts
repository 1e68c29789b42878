/**
 * `client.tunnels`: local TCP ports that lead to a host:port as seen from a machine. Every
 * connection accepted locally becomes one stream through the relay to the agent, which dials the
 * target (if its allowlist permits).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { cmdop } from '../protocol/gen/cmdop.js';
import { NotFoundError, ValidationError, asCmdopError } from '../errors.js';
import { pipe, type PipeCounters } from '../link/pipe.js';
import type { Caller } from './caller.js';
import type { Duplex } from 'node:stream';
import { duplexFrom } from '../link/node-streams.js';

/** Receive window of each tunnel connection: bulk transfers need more than the default in flight. */
const TUNNEL_WINDOW = 4 * 1024 * 1024;

export interface TunnelOptions {
  remotePort: number;
  /** Default 127.0.0.1, as seen from the machine. */
  remoteHost?: string;
  /** Default 0: any free port. */
  localPort?: number;
  /** Default 127.0.0.1. Listening beyond loopback is the caller's explicit choice. */
  localHost?: string;
}

export interface TunnelConnection {
  id: string;
  openedAt: Date;
  /** Bytes from the local client towards the machine. */
  bytesOut: number;
  /** Bytes from the machine back to the local client. */
  bytesIn: number;
  peer: string;
}

export class Tunnel {
  readonly id = randomUUID();
  readonly openedAt = new Date();
  private readonly conns = new Map<string, { info: TunnelConnection; sock: Socket; counters: PipeCounters }>();

  constructor(
    readonly machine: string,
    readonly remoteHost: string,
    readonly remotePort: number,
    readonly localHost: string,
    readonly localPort: number,
    private readonly server: Server,
    private readonly onClosed: () => void,
  ) {}

  /** Live connections with their byte counts. */
  sessions(): TunnelConnection[] {
    return [...this.conns.values()].map(({ info, counters }) => ({ ...info, bytesIn: counters.bytesIn, bytesOut: counters.bytesOut }));
  }

  /** Stops listening and closes every live connection. */
  async close(): Promise<void> {
    for (const c of this.conns.values()) c.sock.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.onClosed();
  }

  /** @internal */
  track(sock: Socket, counters: PipeCounters): void {
    const id = randomUUID();
    // The socket sends towards the machine what pipe() counts as bytesOut from the stream's view; swap to the user's view.
    const view = { get bytesIn() { return counters.bytesOut; }, get bytesOut() { return counters.bytesIn; } } as PipeCounters;
    this.conns.set(id, { info: { id, openedAt: new Date(), bytesIn: 0, bytesOut: 0, peer: `${sock.remoteAddress}:${sock.remotePort}` }, sock, counters: view });
    sock.once('close', () => this.conns.delete(id));
  }
}

export class Tunnels {
  private readonly open_ = new Map<string, Tunnel>();

  constructor(private readonly caller: Caller) {}

  /**
   * Listens locally and forwards each connection to remoteHost:remotePort on the machine.
   * @example
   * const t = await client.tunnels.open('db-1', { remotePort: 5432 });
   * // psql -h 127.0.0.1 -p ${t.localPort}
   */
  async open(machine: string, o: TunnelOptions): Promise<Tunnel> {
    if (!machine) throw new ValidationError('tunnels.open needs a machine');
    if (!(Number.isInteger(o.remotePort) && o.remotePort >= 1 && o.remotePort <= 65535)) throw new ValidationError('remotePort must be 1..65535');
    const remoteHost = o.remoteHost ?? '127.0.0.1';
    const localHost = o.localHost ?? '127.0.0.1';
    const request = cmdop.v1.TunnelConnectRequest.encode({ host: remoteHost, port: o.remotePort }).finish();
    let tunnel: Tunnel | undefined;
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
      sock.pause();
      sock.on('error', () => undefined); // reported through the stream
      this.caller
        .open({ target: machine, service: 'tunnel', method: 'connect', request, window: TUNNEL_WINDOW })
        .then((stream) => {
          const counters = pipe(stream, sock, `${machine}:${remoteHost}:${o.remotePort}`);
          tunnel?.track(sock, counters);
          sock.resume();
        })
        .catch(() => sock.resetAndDestroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new ValidationError(`cannot listen on ${localHost}:${o.localPort ?? 0}: ${err.code ?? err.message}`)));
      server.listen(o.localPort ?? 0, localHost, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    tunnel = new Tunnel(machine, remoteHost, o.remotePort, localHost, port, server, () => this.open_.delete(tunnel!.id));
    this.open_.set(tunnel.id, tunnel);
    return tunnel;
  }

  /**
   * The machine's SSH server as a byte stream (what `cmdop ssh-proxy` hands to OpenSSH): run an
   * SSH client over it. The relay checks the key first; each SSH channel needs its own grant.
   */
  async ssh(machine: string): Promise<Duplex> {
    return duplexFrom(await this.caller.open({ target: machine, service: 'ssh', method: 'connect', request: new Uint8Array(), window: TUNNEL_WINDOW }));
  }

  list(): Tunnel[] {
    return [...this.open_.values()];
  }

  get(id: string): Tunnel {
    const t = this.open_.get(id);
    if (!t) throw new NotFoundError(`no tunnel ${id}`);
    return t;
  }

  async close(id: string): Promise<void> {
    await this.get(id).close();
  }

  sessions(id: string): TunnelConnection[] {
    return this.get(id).sessions();
  }

  /** Closes every tunnel (the client does this when it closes). */
  async closeAll(): Promise<void> {
    await Promise.all(this.list().map((t) => t.close().catch((err: unknown) => asCmdopError(err))));
  }
}
