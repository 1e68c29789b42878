/**
 * The dialing side of a link in Node: open the WebSocket, then the handshake (./greet.ts). Used by
 * the agent (to its relay) and the client (to a relay or the local agent).
 */
import { dialWebSocket, type DialOptions } from './dial.js';
import { greet, type Connected, type GreetOptions } from './greet.js';
import { wsTransport } from './ws-transport.js';

export type { Connected } from './greet.js';

export interface ConnectOptions extends Omit<GreetOptions, 'peer' | 'timeoutMs'> {
  dial: DialOptions;
}

export async function connectLink(o: ConnectOptions): Promise<Connected> {
  const ws = await dialWebSocket(o.dial);
  return greet(wsTransport(ws), { ...o, peer: o.dial.url, timeoutMs: o.dial.timeoutMs });
}
