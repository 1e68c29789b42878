/**
 * Every TCP connection on a listener, upgraded or not, so a stop can end them all: Node's
 * `closeAllConnections` knows only HTTP connections, and `server.close` waits for every socket,
 * including upgraded links whose peer never answers the close.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** How long a stop waits for links told to go away to close before it cuts them. */
export const STOP_GRACE_MS = 2000;

export class OpenSockets {
  private readonly sockets = new Set<Socket>();

  track(server: Server): void {
    server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.once('close', () => this.sockets.delete(sock));
    });
  }

  /** Closes the servers: idle connections at once, the rest after `graceMs`. */
  async close(servers: ReadonlyArray<Server | undefined>, graceMs = STOP_GRACE_MS): Promise<void> {
    const closed = Promise.all(servers.map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
    for (const s of servers) s?.closeIdleConnections?.();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => (grace = setTimeout(r, graceMs)))]);
    clearTimeout(grace);
    for (const sock of this.sockets) sock.destroy();
    for (const s of servers) s?.closeAllConnections?.();
    await closed;
  }
}
