/**
 * tunnel.connect: one stream = one TCP connection from the agent to an allowed target. Bytes
 * flow both ways with backpressure end to end (the socket pauses while the stream has no
 * credit; credit is granted only once the socket has taken the bytes), half-close carries over,
 * and a reset on either side aborts the other.
 */
import { connect as netConnect, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { PermissionError, ValidationError } from '../../errors.js';
import type { Stream } from '../../protocol/stream.js';
import type { Logger } from '../../log.js';
import { abortWith, decodeRequest } from '../../link/services.js';
import type { Allowlist } from './allowlist.js';
import { pipe } from '../../link/pipe.js';
import { HeadroomReads } from '../../link/headroom-reads.js';

/** Picks the address to dial, or throws PermissionError. Names are resolved here and the checked address is what gets dialled. */
export async function resolveAllowed(allow: Allowlist, host: string, port: number): Promise<string> {
  if (isIP(host)) {
    if (allow.allowsAddress(host, port)) return host;
  } else {
    if (allow.allowsName(host, port)) return host;
    const addrs = await lookup(host, { all: true }).catch(() => []);
    const ok = addrs.find((a) => allow.allowsAddress(a.address, port));
    if (ok) return ok.address;
  }
  throw new PermissionError(`tunnel target ${host}:${port} is not allowed by this agent's tunnel allowlist`);
}

export function handleTunnelConnect(stream: Stream, ctx: { log: Logger; allow: Allowlist }): void {
  stream.autoConsume = false;
  // No handlers yet: data that arrives before the socket exists waits in the stream's inbox.
  void (async () => {
    const req = decodeRequest(cmdop.v1.TunnelConnectRequest, stream);
    if (!req.host || !(req.port >= 1 && req.port <= 65535)) throw new ValidationError('tunnel needs a host and a port between 1 and 65535');
    const target = `${req.host}:${req.port}`;
    let address: string;
    try {
      address = await resolveAllowed(ctx.allow, req.host, req.port);
    } catch (err) {
      ctx.log.warn({ target }, 'tunnel target refused by allowlist');
      throw err;
    }
    if (stream.finished) return;
    const reads = new HeadroomReads();
    pipe(stream, netConnect({ host: address, port: req.port, allowHalfOpen: true, noDelay: true, onread: reads.onread }), target, undefined, reads);
  })().catch((err) => abortWith(stream, ctx.log, err, 'tunnel.connect'));
}
