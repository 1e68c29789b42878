import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect, type Server } from 'node:net';
import { listen } from '../helpers/net.js';
import { createServer as createHttpServer, get, Agent as HttpAgent } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { Client } from '../../src/client/client.js';
import { parseSpec } from '../../src/cli/cmdop/tunnel.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { CLI, start } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

describe('tunnels', () => {
  let c: Cluster;
  let client: Client;
  beforeAll(async () => {
    c = await startCluster();
    await (await c.startAgent('gw')).online();
    client = await c.client();
  });
  afterAll(async () => {
    await c.close();
  });

  it('an HTTP server through a tunnel answers 200 concurrent connections correctly', async () => {
    const http = createHttpServer((req, res) => res.end(`hello ${req.url}`));
    const port = await listen(http as unknown as Server);
    const t = await client.tunnels.open('gw', { remotePort: port });
    const agent = new HttpAgent({ keepAlive: false, maxSockets: 200 });
    const bodies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        new Promise<string>((resolve, reject) =>
          get({ host: '127.0.0.1', port: t.localPort, path: `/req${i}`, agent }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          }).on('error', reject),
        ),
      ),
    );
    bodies.forEach((b, i) => expect(b).toBe(`hello /req${i}`));
    expect(client.tunnels.list().map((x) => x.id)).toContain(t.id);
    await t.close();
    http.close();
  });

  it('half-close carries over and bytes are counted', async () => {
    // A server that reads to the end, then answers with the digest of what it read.
    const srv = createServer({ allowHalfOpen: true }, (s) => {
      const h = createHash('sha256');
      s.on('data', (d) => h.update(d));
      s.on('end', () => s.end(h.digest('hex')));
    });
    const port = await listen(srv);
    const t = await client.tunnels.open('gw', { remotePort: port });
    const data = randomBytes(3 * 1024 * 1024);
    const sock = connect({ port: t.localPort, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    sock.on('data', (d) => (answer += d));
    await waitFor('a tunnel session', () => t.sessions().length === 1);
    sock.write(data);
    await waitFor('every byte counted towards the machine', () => t.sessions()[0]?.bytesOut === data.length);
    sock.end();
    await new Promise((r) => sock.once('end', r));
    expect(answer).toBe(createHash('sha256').update(data).digest('hex'));
    await t.close();
    srv.close();
  });

  it('a target outside the allowlist resets the local connection', async () => {
    const t = await client.tunnels.open('gw', { remotePort: 80, remoteHost: '10.255.255.1' });
    const sock = connect({ port: t.localPort, host: '127.0.0.1' });
    const err = await new Promise<NodeJS.ErrnoException | null>((r) => {
      sock.on('error', r);
      sock.on('close', () => r(null));
    });
    expect(err?.code ?? 'closed').toMatch(/ECONNRESET|closed/);
    await t.close();
  });

  it('cmdop tunnel forwards a port until stopped; the spec syntax is checked', async () => {
    expect(parseSpec('5432')).toEqual({ localPort: 0, remotePort: 5432, remoteHost: '127.0.0.1' });
    expect(parseSpec('15432:5432')).toEqual({ localPort: 15432, remotePort: 5432, remoteHost: '127.0.0.1' });
    expect(parseSpec('5432:db.internal')).toEqual({ localPort: 0, remotePort: 5432, remoteHost: 'db.internal' });
    expect(parseSpec('1:2:h')).toEqual({ localPort: 1, remotePort: 2, remoteHost: 'h' });
    expect(() => parseSpec('x')).toThrow(/port number/);
    const echo = createServer((s) => s.pipe(s));
    const port = await listen(echo);
    const p = start(process.execPath, [CLI('cmdop'), 'tunnel', 'gw', String(port)], { CMDOP_BASE_URL: c.relay.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.relay.fingerprint, CMDOP_PROFILE: '/nonexistent' });
    const [, local] = await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    const sock = connect({ port: Number(local), host: '127.0.0.1' });
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.write('ping through the cli');
    await waitFor('echo', () => got === 'ping through the cli');
    sock.destroy();
    expect(await p.kill('SIGINT')).toBe(0);
    echo.close();
  });
});
