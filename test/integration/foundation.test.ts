import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { NotFoundError, UnavailableError, ConflictError } from '../../src/errors.js';

describe('relay + agent + client over TLS on loopback', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster();
  });
  afterAll(async () => {
    await c.close();
  });

  it('an enrolled agent shows online in machines.list and machines.get', async () => {
    const agent = await c.startAgent('alpha');
    await agent.online(10_000);
    const client = await c.client();
    const page = await client.machines.list({ presence: 'online' });
    const alpha = page.items.find((m) => m.hostname === 'alpha');
    expect(alpha).toBeDefined();
    expect(alpha!.presence).toBe('online');
    expect(alpha!.agentVersion).toMatch(/^cmdop-agent\//);
    const byHost = await client.machines.get('alpha');
    expect(byHost.id).toBe(alpha!.id);
    const byId = await client.machines.get(alpha!.id);
    expect(byId.hostname).toBe('alpha');
  });

  it('unknown machine is NotFoundError, quickly', async () => {
    const client = await c.client();
    const t0 = Date.now();
    await expect(client.machines.get('no-such-host')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.call('no-such-host', 'agent', 'status', new Uint8Array())).rejects.toBeInstanceOf(NotFoundError);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('offline machine is UnavailableError; duplicate hostnames are a ConflictError', async () => {
    const agent = await c.startAgent('beta');
    await agent.online(10_000);
    await agent.stop();
    const client = await c.client();
    await expect(client.call('beta', 'agent', 'status', new Uint8Array())).rejects.toBeInstanceOf(UnavailableError);
    const dup1 = await c.startAgent('gamma');
    const dup2 = await c.startAgent('gamma2', { hostname: 'gamma' });
    await Promise.all([dup1.online(), dup2.online()]);
    await expect(client.machines.get('gamma')).rejects.toBeInstanceOf(ConflictError);
  });
});
