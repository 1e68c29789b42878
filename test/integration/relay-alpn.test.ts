/**
 * The relay's public listener negotiates ALPN through a callback (src/relay/http.ts, HTTP11_ALPN):
 * what a client sees must be what Node's https default gave, over a real TLS connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:tls';
import { startCluster, type Cluster } from '../helpers/cluster.js';

/** A TLS connection to the relay offering `protocols`: the protocol chosen, or the error's code. */
function negotiate(c: Cluster, protocols: string[] | undefined): Promise<string | false | null> {
  const { port } = new URL(c.relay.url);
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: Number(port), ca: c.relay.certPem, checkServerIdentity: () => undefined, ...(protocols ? { ALPNProtocols: protocols } : {}) }, () => {
      resolve(s.alpnProtocol);
      s.end();
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('the relay listener: ALPN', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster();
  });
  afterAll(async () => c?.close());

  it('chooses http/1.1 from a browser-like offer, none when none is offered, and refuses an offer without http/1.1', async () => {
    expect(await negotiate(c, ['h2', 'http/1.1'])).toBe('http/1.1');
    expect(await negotiate(c, undefined)).toBe(false);
    expect(await negotiate(c, ['h2'])).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
  });

  it('agents and clients (which offer no ALPN) still link: an agent comes online and a client lists it', async () => {
    const agent = await c.startAgent('alpn-box');
    await agent.online(15_000);
    const client = await c.client();
    const page = await client.machines.list({ presence: 'online' });
    expect(page.items.map((m) => m.name)).toContain('alpn-box');
  });
});
