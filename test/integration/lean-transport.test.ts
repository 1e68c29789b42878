/**
 * The link's own frame path (src/link/lean-transport.ts) at a real relay, against peers that are
 * not ours: `ws` with random masks, fragments and pings, and a raw TLS socket that breaks the
 * framing rules. WebSocket-level answers (pong, the close handshake, the RFC's close codes), and a
 * broken peer costs only its own link.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { encodeData, encodeFrame } from '../../src/protocol/codec.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { rawClient, rawPeer } from '../helpers/raw.js';
import type { Client } from '../../src/client/client.js';
import { dialTransport } from '../../src/link/dial.js';
import { greet } from '../../src/link/greet.js';
import { LeanTransport } from '../../src/link/lean-transport.js';
import { callUnary } from '../../src/link/call.js';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { silentLogger } from '../../src/log.js';

/** ws's frame writer and reader (exported by ws, not by its type declarations). */
interface WsSender {
  frame(data: Buffer, o: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[];
}
type WsReceiver = NodeJS.EventEmitter & { write(chunk: Buffer): boolean };
const { Sender } = createRequire(import.meta.url)('ws') as { Sender: WsSender; Receiver: new (o: { isServer: boolean; maxPayload: number }) => WsReceiver };

describe('our WebSocket frame path at the relay', () => {
  let c: Cluster;
  let bystander: Client;
  beforeAll(async () => {
    c = await startCluster();
    const agent = await c.startAgent('lean1');
    await agent.online();
    bystander = await c.client();
  });
  afterAll(() => c.close());

  it('a ws peer: a ping gets its pong, a link frame sent in fragments with a ping between them is read whole', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    const pong = new Promise<Buffer>((resolve) => p.ws.once('pong', resolve));
    p.ws.ping(Buffer.from('are you there'));
    expect((await pong).toString()).toBe('are you there');
    // A link ping (the relay answers with a link pong), cut into three WebSocket fragments.
    const frame = Buffer.from(encodeFrame(0, { ping: { timeMs: 12345 } }));
    p.ws.send(frame.subarray(0, 2), { fin: false });
    p.ws.ping();
    p.ws.send(frame.subarray(2, 4), { fin: false });
    p.ws.send(frame.subarray(4), { fin: true });
    const answer = await p.next('pong');
    expect(Number(answer.frame!.pong!.timeMs)).toBe(12345);
    // The close handshake: the relay echoes the code, and the peer sees it.
    p.ws.close(4001, 'done here');
    expect((await p.closed).code).toBe(4001);
  });

  it('a 200 KB message from a ws peer (a random mask on every frame) is unmasked and read whole', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    // Data for a stream never opened: the relay can only say so once it has read the frame right.
    p.send(encodeData(41, randomBytes(200_000)));
    const { code, errors } = await p.closed;
    expect(code).toBe(1002);
    expect(errors.find((e) => e.streamId === 0)?.frame!.error!.message).toMatch(/unknown stream 41/);
  });

  it('a wss dial reads into our buffers once the frame path owns the socket: no data event, and the link works', async () => {
    const t = await dialTransport({ url: c.relay.url, fingerprint: c.relay.fingerprint, timeoutMs: 10_000 });
    expect(t).toBeInstanceOf(LeanTransport);
    const socket = (t as LeanTransport).socket;
    let dataEvents = 0;
    socket.on('data', () => dataEvents++);
    const { link } = await greet(t, { log: silentLogger(), peer: c.relay.url, timeoutMs: 10_000, hello: { role: cmdop.v1.Role.CLIENT, software: 'test', apiKey: c.apiKey } });
    const res = await callUnary(link, 'agent', 'status', cmdop.v1.Empty.encode({}).finish(), { target: 'lean1', timeoutMs: 10_000 });
    expect(cmdop.v1.AgentStatus.decode(res).hostname).toBe('lean1');
    expect(dataEvents).toBe(0); // every read since the take-over went straight to the frame reader
    link.close();
  });

  const hostile: Array<[string, Buffer, number]> = [
    ['an unmasked frame from a client', Buffer.from([0x82, 0x01, 0x00]), 1002],
    ['an RSV bit', Buffer.concat([Buffer.from([0xc2, 0x81]), Buffer.alloc(5)]), 1002],
    ['a fragmented ping', Buffer.concat([Buffer.from([0x09, 0x80]), Buffer.alloc(4)]), 1002],
    ['a frame over the size limit', Buffer.concat([Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0]), Buffer.alloc(4)]), 1009],
  ];
  for (const [what, bytes, code] of hostile) {
    it(`a raw TLS peer sending ${what}: closed with ${code}, the relay and other links carry on`, async () => {
      // A ws handshake first (the upgrade), then the hostile bytes straight onto its socket.
      const p = await rawPeer(c.relay);
      const socket = (p.ws as unknown as { _socket: import('node:net').Socket })._socket;
      socket.write(bytes);
      expect((await p.closed).code).toBe(code);
      expect((await bystander.machines.get('lean1')).presence).toBe('online');
    });
  }

  it('a raw TLS peer that stops halfway through a frame header stalls only its own link', async () => {
    const url = new URL(c.relay.url);
    const s = tlsConnect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false });
    await new Promise((r) => s.once('secureConnect', r));
    const key = randomBytes(16).toString('base64');
    s.write(`GET /v1/link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await new Promise<void>((resolve) => s.once('data', (d: Buffer) => (expect(d.toString()).toMatch(/^HTTP\/1.1 101/), resolve())));
    // Half a header, then silence: the relay waits (its handshake timeout ends the link).
    const head = Sender.frame(Buffer.alloc(300), { fin: true, opcode: 2, mask: true, readOnly: true, rsv1: false })[0]!;
    s.write(head.subarray(0, 3));
    expect((await bystander.machines.get('lean1')).presence).toBe('online');
    s.destroy();
  });
});
