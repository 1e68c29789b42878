/**
 * `cmdop ui`'s side of a browser link: the browser speaks our protocol to this process, which
 * holds the operator's credentials and pinned relay (or the local agent's socket). Each stream
 * the browser opens is opened again on the operator's own client link and spliced to it, so
 * the browser never holds a key and never meets the relay's certificate.
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../../log.js';
import type { Client } from '../../client/client.js';
import { Link } from '../../link/link.js';
import { Acceptor } from '../../link/handshake.js';
import { wsTransport } from '../../link/ws-transport.js';
import { asCmdopError, ProtocolError } from '../../errors.js';
import { MAX_STREAMS_PER_LINK } from '../../protocol/limits.js';
import { VERSION } from '../../version.js';
import type { Stream } from '../../protocol/stream.js';
import { splice } from './splice.js';
import { answerLocally } from './local-machines.js';

const HEARTBEAT_MS = 15_000;
/** Receive window of a bridged stream toward the relay: what the SDK's own terminals and files use at most. */
const BRIDGE_WINDOW = 16 * 1024 * 1024;

/** With `local`, the client is the local agent's and the bridge answers the relay's machine list itself. */
export function bridgeBrowserLink(ws: WebSocket, client: Client, log: Logger, o: { local?: boolean } = {}): Link {
  const bridge = (s: Stream) =>
    client.stream(s.info.target, { service: s.info.service, method: s.info.method, request: s.info.request, end: s.endedAtOpen, window: BRIDGE_WINDOW }).then(
      (up) => splice(s, up),
      (err) => s.abort(asCmdopError(err, 'opening the stream')),
    );
  const link: Link = new Link(wsTransport(ws), {
    dialer: false,
    log,
    heartbeatMs: HEARTBEAT_MS,
    maxStreams: MAX_STREAMS_PER_LINK,
    onStream: (s) => {
      if (!handshake.accepted) return link.close(new ProtocolError('stream before the handshake'));
      if (!o.local) return void bridge(s);
      answerLocally(client, s.info.service, s.info.method, s.info.request).then(
        (answer) => {
          if (!answer) return void bridge(s);
          s.write(answer);
          s.end();
        },
        (err) => s.abort(asCmdopError(err, 'answering locally')),
      );
    },
    onControl: (f) => handshake.onControl(f),
  });
  const handshake: Acceptor = new Acceptor(link, {
    side: 'cmdop ui',
    log,
    onHello: () => handshake.accept({ software: `cmdop-ui/${VERSION}`, heartbeatMs: HEARTBEAT_MS, machineId: '' }),
  });
  return link;
}
