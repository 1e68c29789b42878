/**
 * The dialing side's handshake over a transport that is already open: say Hello, answer the
 * relay's challenge if it sends one, and wait for Welcome. No Node built-ins: the web console
 * runs it over the browser's WebSocket.
 */
import { applyPeerCapabilities, checkVersion } from './handshake.js';
import type { cmdop } from '../protocol/gen/cmdop.js';
import type { Logger } from '../log.js';
import { ConnectionError, ProtocolError, TimeoutError, type CmdopError } from '../errors.js';
import { fromWireError } from '../protocol/codes.js';
import { CAPABILITIES, PROTOCOL_MAJOR, PROTOCOL_MINOR } from '../protocol/limits.js';
import { Link, type LinkOptions } from './link.js';
import type { Transport } from './transport.js';

export interface GreetOptions {
  log: Logger;
  /** Hello fields beyond version and capabilities (role and credentials). */
  hello: Omit<cmdop.v1.IHello, 'major' | 'minor' | 'capabilities'>;
  /** Where the transport goes, for messages. */
  peer: string;
  timeoutMs: number;
  /** Signs the relay's challenge nonce (agents; relay nodes, which bind it to the link's TLS session). */
  prove?: (nonce: Uint8Array, link: Link) => Uint8Array;
  onStream?: LinkOptions['onStream'];
  pingBody?: LinkOptions['pingBody'];
  /** Cluster links: the router sees their frames first. */
  intercept?: LinkOptions['intercept'];
  onDrain?: LinkOptions['onDrain'];
}

export interface Connected {
  link: Link;
  welcome: cmdop.v1.Welcome;
}

export function greet(transport: Transport, o: GreetOptions): Promise<Connected> {
  const link = new Link(transport, { dialer: true, log: o.log, heartbeatMs: 0, onStream: o.onStream, pingBody: o.pingBody, intercept: o.intercept, onDrain: o.onDrain });
  return new Promise<Connected>((resolve, reject) => {
    let done = false;
    const finish = (err: CmdopError | null, welcome?: cmdop.v1.Welcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        link.close();
        reject(err);
      } else {
        link.onControl = (f) => link.close(new ProtocolError(`unexpected ${f.kind} frame after the handshake`));
        link.startHeartbeat(welcome!.heartbeatMs);
        resolve({ link, welcome: welcome! });
      }
    };
    const timer = setTimeout(() => finish(new TimeoutError(`no handshake answer from ${o.peer} within ${o.timeoutMs} ms`)), o.timeoutMs);
    link.onClose((err) => finish(err instanceof ConnectionError ? new ConnectionError(`link closed during the handshake: ${err.message}`, { cause: err }) : err));
    link.onControl = (f) => {
      switch (f.kind) {
        case 'challenge': {
          if (!o.prove) return finish(new ProtocolError('relay sent a challenge to a client'));
          link.sendControl({ proof: { signature: o.prove(f.frame!.challenge!.nonce, link) } });
          return;
        }
        case 'welcome': {
          const w = f.frame!.welcome!;
          try {
            checkVersion(w.major, w.minor, 'client');
          } catch (err) {
            return finish(err as CmdopError);
          }
          applyPeerCapabilities(link, w.capabilities);
          return finish(null, w);
        }
        case 'error':
          return finish(fromWireError(f.frame!.error!));
        default:
          return finish(new ProtocolError(`unexpected ${f.kind} frame during the handshake`));
      }
    };
    link.sendControl({ hello: { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR, capabilities: [...CAPABILITIES], ...o.hello } });
  });
}
