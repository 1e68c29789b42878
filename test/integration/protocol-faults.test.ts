import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { encodeData, encodeFrame } from '../../src/protocol/codec.js';
import { DEFAULT_WINDOW, MAX_FRAME_BYTES } from '../../src/protocol/limits.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { rawAgent, rawClient, rawPeer, type RawPeer } from '../helpers/raw.js';
import { Client } from '../../src/client/client.js';

/** Each case: a peer misbehaves; its link gets a protocol error and closes; everyone else carries on. */
describe('malformed and hostile frames', () => {
  let c: Cluster;
  let bystander: Client;
  beforeAll(async () => {
    c = await startCluster();
    const agent = await c.startAgent('host1');
    await agent.online();
    bystander = await c.client();
  });
  afterAll(async () => {
    await c.close();
  });

  async function expectProtocolClose(p: RawPeer, pattern: RegExp): Promise<void> {
    const { code, errors } = await p.closed;
    expect(code).toBe(1002);
    const link = errors.find((e) => e.streamId === 0);
    expect(link?.frame!.error!.code).toBe(cmdop.v1.ErrorCode.PROTOCOL);
    expect(link?.frame!.error!.message).toMatch(pattern);
    // The relay and other links are fine.
    expect((await bystander.machines.get('host1')).presence).toBe('online');
  }

  it('garbage bytes', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    p.send(new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02, 0x03]));
    await expectProtocolClose(p, /malformed frame/);
  });

  it('a header with a truncated body', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    p.send(new Uint8Array([0x0d, 1, 0, 0, 0, 0x22, 0x50, 0x01]));
    await expectProtocolClose(p, /malformed frame/);
  });

  it('a text message', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    p.send('hello');
    await expectProtocolClose(p, /text message/);
  });

  it('a frame over the size limit closes the link (WebSocket 1009) and nothing else', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    p.send(encodeData(1, new Uint8Array(MAX_FRAME_BYTES + 1)));
    const { code } = await p.closed;
    expect(code).toBe(1009);
    expect((await bystander.machines.get('host1')).presence).toBe('online');
  });

  it('data for a stream that was never opened', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    p.send(encodeData(41, new Uint8Array([1, 2, 3])));
    await expectProtocolClose(p, /unknown stream 41/);
  });

  it('a stream opened with the wrong parity', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    p.send(encodeFrame(2, { open: { service: 'machines', method: 'list', end: true } }));
    await expectProtocolClose(p, /out of sequence/);
  });

  it('a peer that overruns its flow-control window through the relay', async () => {
    // Both ends by hand, so nothing grants credit behind the test's back.
    const agent = await rawAgent(c.relay, await c.joinToken(), 'raw-sender');
    const client = await rawClient(c.relay, c.apiKey);
    client.send(encodeFrame(1, { open: { target: agent.machineId, service: 'x', method: 'y', window: 1000 } }));
    const open = await agent.next('open');
    expect(open.frame!.open!.window).toBe(1000);
    agent.send(encodeData(open.streamId, new Uint8Array(1000))); // exactly the window: fine
    expect((await client.next('data')).data!.length).toBe(1000);
    // The relay is the agent's receiver on its hop: once it forwarded the bytes it grants them back
    // (the client, which granted nothing, gets no more than its own window from the relay).
    const grant = await agent.next('window');
    expect(grant.frame!.window!.credit).toBe(1000);
    agent.send(encodeData(open.streamId, new Uint8Array(1001))); // one byte more than the relay granted: protocol error
    await expectProtocolClose(agent, /overran its flow-control window/);
    // The client's stream ends with the machine gone; the client link itself stays up.
    const err = await client.next('error');
    expect(err.frame!.error!.code).toBe(cmdop.v1.ErrorCode.UNAVAILABLE);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    client.ws.close();
  });

  it('stream frames before the handshake', async () => {
    const p = await rawPeer(c.relay);
    p.send(encodeFrame(1, { open: { service: 'machines', method: 'list' } }));
    await expectProtocolClose(p, /before the handshake/);
  });

  it('a peer that never says hello is dropped after the handshake timeout (checked by the cap test) and one that says it twice is refused', async () => {
    const p = await rawClient(c.relay, c.apiKey);
    p.send(encodeFrame(0, { hello: { major: 1, role: cmdop.v1.Role.CLIENT, apiKey: c.apiKey } }));
    await expectProtocolClose(p, /after the handshake/);
  });
});
