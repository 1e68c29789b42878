/**
 * Our SDK under the seeds' names and behaviours (SEEDS 000 and 003): remote() and local({ host,
 * port }), isConnected and connectionInfo, events, auto-reconnect, retries of idempotent calls
 * only, in-flight calls on a dropped link, ServerError, pages().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';
import { Client } from '../../src/client/client.js';
import { ConnectionError, InternalError, ServerError } from '../../src/errors.js';
import { pidsOf } from '../helpers/procs.js';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

describe('the SDK under the seeds\' names', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster();
    await (await c.startAgent('seed-1')).online();
  });
  afterAll(async () => c.close());

  it('Client.remote({ apiKey }) and Client.local({ host, port }) reach the relay; tls: false is refused by a TLS relay', async () => {
    const remote = await Client.remote({ url: c.relay.url, apiKey: c.apiKey, fingerprint: c.relay.fingerprint });
    expect((await remote.machines.list()).items.map((m) => m.hostname)).toContain('seed-1');
    await remote.close();
    const local = await Client.local({ host: '127.0.0.1', port: c.relay.port, apiKey: c.apiKey, fingerprint: c.relay.fingerprint });
    expect(local.endpoint).toBe(`wss://127.0.0.1:${c.relay.port}`);
    expect((await local.machines.get('seed-1')).hostname).toBe('seed-1');
    await local.close();
    await expect(Client.local({ host: '127.0.0.1', port: c.relay.port, tls: false, apiKey: c.apiKey, timeoutMs: 3000 })).rejects.toBeInstanceOf(ConnectionError);
  });

  it('isConnected and connectionInfo, with latency from the heartbeat round trip', async () => {
    const client = await c.client();
    expect(client.isConnected).toBe(true);
    const info = await waitFor('a heartbeat round trip', () => (client.connectionInfo.latencyMs !== null ? client.connectionInfo : null));
    expect(info).toMatchObject({ server: c.relay.url, connected: true, reconnects: 0 });
    expect(info.latencyMs).toBeGreaterThanOrEqual(0);
    expect(info.connectedAt).toBeInstanceOf(Date);
  });

  it('ServerError is InternalError; files.pages() pages what iter() yields', async () => {
    expect(ServerError).toBe(InternalError);
    expect(new ServerError('x')).toBeInstanceOf(InternalError);
    const dir = join(c.dir, 'paged');
    mkdirSync(dir);
    for (let i = 0; i < 25; i++) writeFileSync(join(dir, `f${i}`), '');
    const client = await c.client();
    client.files.setMachine('seed-1');
    const pages: number[] = [];
    for await (const p of client.files.pages(dir, { limit: 10 })) pages.push(p.length);
    expect(pages).toEqual([10, 10, 5]);
    let n = 0;
    for await (const _ of client.files.iter(dir, { limit: 10 })) n++;
    expect(n).toBe(25);
  });

  /** A TCP hop between the client and the relay that the test can cut, or make refuse every dial, the relay untouched. */
  async function hop(): Promise<{ url: string; cut(): void; down(): Promise<void>; up(): Promise<void>; refused: () => number }> {
    const sockets = new Set<Socket>();
    let server: Server;
    let port = 0;
    let isDown = false;
    let refused = 0;
    const listen = () =>
      new Promise<void>((resolve) => {
        server = createServer((s) => {
          if (isDown) {
            refused++; // the relay is "out of reach": every dial fails at once
            return void s.destroy();
          }
          const up = connect(c.relay.port, '127.0.0.1');
          for (const x of [s, up]) {
            sockets.add(x);
            x.on('error', () => {});
            x.on('close', () => sockets.delete(x));
          }
          s.pipe(up).pipe(s);
        });
        server.listen(port, '127.0.0.1', () => {
          port = (server.address() as AddressInfo).port;
          resolve();
        });
      });
    await listen();
    const cut = () => sockets.forEach((x) => x.destroy());
    return {
      url: `wss://127.0.0.1:${port}`,
      cut,
      down: async () => {
        isDown = true;
        cut();
      },
      up: async () => {
        isDown = false;
      },
      refused: () => refused,
    };
  }

  it('a call in flight when the link drops rejects with ConnectionError; the client reconnects by itself and says so', async () => {
    const h = await hop();
    const client = await c.client({ url: h.url });
    const events: string[] = [];
    client.on('connect', () => events.push('connect')).on('disconnect', () => events.push('disconnect')).on('error', () => events.push('error'));
    client.terminal.setMachine('seed-1');
    const inFlight = client.terminal.execute('sleep 20').catch((e: unknown) => e);
    await waitFor('the command to start', () => pidsOf('sleep 20').length > 0);
    await h.down();
    const err = await inFlight;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ detail: 'link_lost', retryable: true });
    expect(client.isConnected).toBe(false);
    await waitFor('a failed background reconnect', () => events.includes('error'));
    await h.up();
    await waitFor('the background reconnect', () => client.isConnected, 20_000);
    expect(events.slice(0, 2)).toEqual(['disconnect', 'error']);
    expect(events.at(-1)).toBe('connect');
    expect(client.connectionInfo.reconnects).toBe(1);
  });

  it('autoReconnect: false stays down after a drop until connect()', async () => {
    const h = await hop();
    const client = await c.client({ url: h.url, autoReconnect: false });
    h.cut();
    await waitFor('the drop', () => !client.isConnected);
    await expect(client.machines.list()).rejects.toMatchObject({ name: 'ConnectionError', message: expect.stringMatching(/autoReconnect is off: call client.connect\(\)/) });
    await client.connect();
    expect((await client.machines.list()).items.length).toBeGreaterThan(0);
  });

  it('maxRetries retries an idempotent call across an outage, never a call that changes something', async () => {
    const h = await hop();
    const client = await c.client({ url: h.url, maxRetries: 20, retryDelay: 100 });
    await h.down();
    await waitFor('the drop', () => !client.isConnected);
    // Not idempotent: fails at once, the relay still out of reach.
    await expect(client.keys.issue({ name: 'never-twice' })).rejects.toBeInstanceOf(ConnectionError);
    let settled = false;
    const before = h.refused();
    const listing = client.machines.list().finally(() => (settled = true));
    await waitFor('three retries to fail', () => h.refused() >= before + 3, 20_000);
    expect(settled).toBe(false);
    await h.up();
    expect((await listing).items.map((m) => m.hostname)).toContain('seed-1');
    expect((await client.keys.list()).some((k) => k.name === 'never-twice')).toBe(false);
  });
});
