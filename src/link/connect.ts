/**
 * The dialing side of a link in Node: open the WebSocket, then the handshake (./greet.ts). Used by
 * the agent (to its relay) and the client (to a relay or the local agent).
 */
import { dialTransport, type DialOptions } from './dial.js';
import { greet, type Connected, type GreetOptions } from './greet.js';

export type { Connected } from './greet.js';

export interface ConnectOptions extends Omit<GreetOptions, 'peer' | 'timeoutMs'> {
  dial: DialOptions;
}

export async function connectLink(o: ConnectOptions): Promise<Connected> {
  return greet(await dialTransport(o.dial), { ...o, peer: o.dial.url, timeoutMs: o.dial.timeoutMs });
}
