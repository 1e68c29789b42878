import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxy } from 'proxy';
import { startCluster } from '../helpers/cluster.js';

/** A real HTTP CONNECT proxy (the `proxy` package) on port 0, counting tunnels. */
async function connectProxy() {
  const server = createProxy(createServer());
  let connects = 0;
  server.on('connect', () => connects++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connects: () => connects, close: () => server.close() };
}

describe('HTTPS_PROXY / NO_PROXY', () => {
  const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('the agent reaches the relay through an HTTP CONNECT proxy', async () => {
    const proxy = await connectProxy();
    const c = await startCluster();
    process.env.HTTPS_PROXY = proxy.url;
    delete process.env.NO_PROXY;
    const agent = await c.startAgent('behind-proxy');
    await agent.online();
    expect(proxy.connects()).toBeGreaterThanOrEqual(1);
    const client = await c.client();
    expect((await client.machines.get('behind-proxy')).presence).toBe('online');
    await c.close();
    proxy.close();
  });

  it('NO_PROXY bypasses the proxy', async () => {
    const proxy = await connectProxy();
    const c = await startCluster();
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NO_PROXY = '127.0.0.1';
    const agent = await c.startAgent('direct');
    await agent.online();
    expect(proxy.connects()).toBe(0);
    await c.close();
    proxy.close();
  });
});
