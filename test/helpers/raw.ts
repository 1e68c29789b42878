/** A raw WebSocket peer that speaks frames by hand: for testing what a broken or hostile peer can do. */
import { WebSocket } from 'ws';
import { generateKeyPairSync, sign } from 'node:crypto';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { proofMessage } from '../../src/link/proof.js';
import { decodeFrame, encodeFrame, type DecodedFrame } from '../../src/protocol/codec.js';
import { PROTOCOL_MAJOR } from '../../src/protocol/limits.js';
import type { Relay } from '../../src/relay/relay.js';

export interface RawPeer {
  ws: WebSocket;
  frames: DecodedFrame[];
  closed: Promise<{ code: number; errors: DecodedFrame[] }>;
  next(kind?: string, timeoutMs?: number): Promise<DecodedFrame>;
  send(bytes: Uint8Array | string): void;
}

export async function rawPeer(relay: Relay, hello?: cmdop.v1.IHello): Promise<RawPeer> {
  const ws = new WebSocket(`${relay.url}/v1/link`, { rejectUnauthorized: false, perMessageDeflate: false });
  const frames: DecodedFrame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d: Buffer) => {
    try {
      frames.push(decodeFrame(new Uint8Array(d)));
    } catch {
      // the relay never sends malformed frames; ignore
    }
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; errors: DecodedFrame[] }>((resolve) => ws.on('close', (code) => resolve({ code, errors: frames.filter((f) => f.kind === 'error') })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let seen = 0;
  const peer: RawPeer = {
    ws,
    frames,
    closed,
    send: (b) => ws.send(b),
    next: (kind, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${kind ?? 'frame'} within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          while (seen < frames.length) {
            const f = frames[seen++]!;
            if (!kind || f.kind === kind) {
              clearTimeout(t);
              return resolve(f);
            }
          }
          waiters.push(check);
        };
        check();
      }),
  };
  if (hello) {
    peer.send(encodeFrame(0, { hello: { major: PROTOCOL_MAJOR, ...hello } }));
  }
  return peer;
}

/** A raw client that has completed the handshake with an API key. */
export async function rawClient(relay: Relay, apiKey: string): Promise<RawPeer> {
  const p = await rawPeer(relay, { role: cmdop.v1.Role.CLIENT, apiKey, software: 'raw-test' });
  await p.next('welcome');
  return p;
}

/** A raw agent, enrolled with a real join token and a fresh Ed25519 key. */
export async function rawAgent(relay: Relay, joinToken: string, hostname: string): Promise<RawPeer & { machineId: string }> {
  const keys = generateKeyPairSync('ed25519');
  const publicKey = keys.publicKey.export({ format: 'der', type: 'spki' });
  const p = await rawPeer(relay, { role: cmdop.v1.Role.AGENT, software: 'raw', enroll: { joinToken, publicKey, hostname } });
  const ch = await p.next('challenge');
  p.send(encodeFrame(0, { proof: { signature: sign(null, proofMessage(ch.frame!.challenge!.nonce, 'enroll'), keys.privateKey) } }));
  const w = await p.next('welcome');
  return Object.assign(p, { machineId: w.frame!.welcome!.machineId });
}
