import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/client/client.js';
import { CancelledError, PermissionError, TimeoutError } from '../../src/errors.js';
import { connectLink } from '../../src/link/connect.js';
import { callUnary } from '../../src/link/call.js';
import { silentLogger } from '../../src/log.js';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { run } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import type { Agent } from '../../src/agent/agent.js';

describe('machine info and management', () => {
  let c: Cluster;
  let client: Client;
  let agent: Agent;
  beforeAll(async () => {
    c = await startCluster();
    agent = await c.startAgent('infohost');
    await agent.online();
    client = await c.client({ timeoutMs: 30_000 });
  });
  afterAll(async () => {
    await c.close();
  });

  it('machines.info reports sane fields for this host; the second call comes from the cache', async () => {
    const t0 = performance.now();
    const i = await client.machines.info('infohost');
    const first = performance.now() - t0;
    const t1 = performance.now();
    const again = await client.machines.info('infohost');
    const cached = performance.now() - t1;
    console.log(`machines.info: first call ${first.toFixed(0)} ms, cached ${cached.toFixed(1)} ms`);
    expect(again.collectedMs).toBe(i.collectedMs);
    expect(i.hostname).toBe('infohost');
    expect(i.platform).toBe(process.platform);
    expect(i.arch).toMatch(/x64|arm64|aarch64/);
    expect(i.kernel).toBeTruthy();
    expect(i.cpuCores).toBeGreaterThanOrEqual(1);
    expect(Number(i.memTotal)).toBeGreaterThan(Number(i.memUsed));
    expect(i.disks!.some((d) => d.mount === '/')).toBe(true);
    expect(i.interfaces!.some((n) => n.ipv4!.includes('127.0.0.1'))).toBe(true);
    expect(Number(i.uptimeS)).toBeGreaterThan(0);
    expect(i.nodeVersion).toBe(process.versions.node);
    expect(i.timezone).toBeTruthy();
  });

  it('a cancelled call fails with CancelledError, not a timeout, and is not retryable (issue 12)', async () => {
    const { link } = await connectLink({ dial: { url: c.relay.url, fingerprint: c.relay.fingerprint, timeoutMs: 5000 }, log: silentLogger(), hello: { role: cmdop.v1.Role.CLIENT, apiKey: c.apiKey, software: 'test' } });
    const ac = new AbortController();
    const req = cmdop.v1.ExecuteRequest.encode({ command: 'sleep 30', timeoutMs: 60_000 }).finish();
    const call = callUnary(link, 'terminal', 'execute', req, { target: 'infohost', timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(err).not.toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'cancelled', retryable: false });
    link.close();
  });

  it('presence summaries from heartbeats show in machines.list', async () => {
    const m = (await client.machines.list()).items.find((x) => x.hostname === 'infohost')!;
    expect(m.summary).not.toBeNull();
    expect(m.summary!.memTotal).toBeGreaterThan(0);
    expect(m.summary!.diskTotal).toBeGreaterThan(0);
  });

  it('update renames and relabels; disable closes the agent link and refuses it until enabled', async () => {
    const updated = await client.machines.update('infohost', { name: 'db-primary', labels: { env: 'prod' } });
    expect(updated).toMatchObject({ name: 'db-primary', labels: { env: 'prod' }, hostname: 'infohost' });
    expect((await client.machines.get('db-primary')).id).toBe(updated.id);
    const offline = new Promise((r) => agent.relay!.once('offline', r));
    await client.machines.disable('infohost');
    await offline;
    await expect(client.call('infohost', 'agent', 'status', new Uint8Array())).rejects.toBeInstanceOf(PermissionError);
    await waitFor('a refused reconnect', () => /disabled/.test(agent.relay!.status().lastError), 5000);
    await client.machines.enable('infohost');
    await agent.online(10_000);
    expect((await client.machines.get('infohost')).presence).toBe('online');
  });

  it('machines.spend and cmdop spend report what the ledger holds', async () => {
    agent.ledger.record({ session: 'chat-1', model: 'local-llama', promptTokens: 1200, completionTokens: 300 });
    agent.ledger.record({ session: 'chat-2', model: 'local-llama', promptTokens: 800, completionTokens: 100, estimated: true });
    const r = await client.machines.spend('infohost', { groupBy: 'session' });
    expect(r.groups!.map((g) => [g.key, g.calls, g.promptTokens])).toEqual([['chat-1', 1, 1200], ['chat-2', 1, 800]]);
    expect(r.total).toMatchObject({ calls: 2, promptTokens: 2000, completionTokens: 400, unpriced: true, estimated: true });
    const env = { CMDOP_BASE_URL: c.relay.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.relay.fingerprint, CMDOP_PROFILE: '/nonexistent' };
    const text = await run('cmdop', ['spend', 'infohost', '--by', 'model'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^local-llama\s+2\s+2000\s+400\s+0\.0000 \* ~$/m);
  });

  it('cmdop info prints the machine, as text and JSON', async () => {
    const env = { CMDOP_BASE_URL: c.relay.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.relay.fingerprint, CMDOP_PROFILE: '/nonexistent' };
    const text = await run('cmdop', ['info', 'infohost'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^hostname\s+infohost$/m);
    expect(text.stdout).toMatch(/^memory\s+/m);
    const json = JSON.parse((await run('cmdop', ['info', 'infohost', '--json'], env)).stdout) as { hostname: string; cpuCores: number };
    expect(json.hostname).toBe('infohost');
    expect(json.cpuCores).toBeGreaterThan(0);
  });
});
