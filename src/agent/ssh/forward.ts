/**
 * Port forwarding: `ssh -L` (direct-tcpip) to targets the agent's tunnel allowlist allows, the
 * same check as tunnel.connect; `ssh -R` (tcpip-forward) binds on loopback only, whatever
 * address the client asks for. Both need the `tunnel` grant. Refusals are logged and audited.
 */
import { connect as netConnect, createServer, type Server } from 'node:net';
import type { Connection } from 'ssh2';
import { resolveAllowed } from '../tunnel/connect.js';
import type { ChannelCtx } from './session.js';

export function serveForwarding(client: Connection, ctx: ChannelCtx): void {
  client.on('tcpip', (accept, reject, info) => {
    const target = `${info.destIP}:${info.destPort}`;
    if (!ctx.may('tunnel')) {
      ctx.log.warn({ caller: ctx.caller, target }, 'ssh -L refused: the key lacks the tunnel grant');
      return reject();
    }
    resolveAllowed(ctx.allow, info.destIP, info.destPort).then(
      (address) => {
        const sock = netConnect({ host: address, port: info.destPort, allowHalfOpen: true, noDelay: true });
        sock.once('connect', () => {
          ctx.audit('ssh.forward', ctx.caller, { target });
          const ch = accept();
          sock.pipe(ch).pipe(sock);
          ch.on('error', () => sock.destroy());
          ch.on('close', () => sock.destroy());
          sock.on('close', () => ch.close());
        });
        sock.once('error', () => reject());
      },
      () => {
        ctx.log.warn({ caller: ctx.caller, target }, 'ssh -L refused by the tunnel allowlist');
        ctx.audit('ssh.forward.refused', ctx.caller, { target });
        reject();
      },
    );
  });

  const bound = new Map<string, Server>();
  client.on('request', (accept, reject, name, info) => {
    if (name === 'tcpip-forward') {
      if (!ctx.may('tunnel')) return reject?.();
      const srv = createServer((sock) => {
        client.forwardOut(info.bindAddr, srv.address() && typeof srv.address() === 'object' ? (srv.address() as { port: number }).port : info.bindPort, sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0, (err, ch) => {
          if (err) return sock.destroy();
          sock.pipe(ch).pipe(sock);
          ch.on('close', () => sock.destroy());
          sock.on('close', () => ch.close());
        });
      });
      srv.on('error', () => reject?.());
      // Loopback only: never a listener on the network, whatever bindAddr says.
      srv.listen(info.bindPort, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        bound.set(`${info.bindAddr}:${info.bindPort === 0 ? port : info.bindPort}`, srv);
        ctx.audit('ssh.remote_forward', ctx.caller, { bind: `127.0.0.1:${port}` });
        accept?.(port);
      });
    } else if (name === 'cancel-tcpip-forward') {
      const key = `${info.bindAddr}:${info.bindPort}`;
      bound.get(key)?.close();
      bound.delete(key);
      accept?.();
    } else reject?.();
  });
  client.on('close', () => {
    for (const s of bound.values()) s.close();
    bound.clear();
  });
}
