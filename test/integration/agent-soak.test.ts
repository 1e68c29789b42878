/**
 * Issue 12: an agent whose relay stays unreachable for a long time (thousands of reconnect attempts,
 * compressed in time with a zero backoff) keeps its memory, file descriptors and timers flat.
 * The relay side is real and hostile in three ways, in turn: a refused port, a TLS server that
 * hangs up after the handshake, and a relay that answers every upgrade with 503.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generate } from 'selfsigned';
import { RelayLink } from '../../src/agent/link/relay-link.js';
import { Identity } from '../../src/agent/identity.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
/** A real full GC, so what is measured is what is retained, not garbage not yet collected. */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const fds = () => readdirSync('/proc/self/fd').length;
function handles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

describe('agent soak: a long-unreachable relay', () => {
  it('3,000 failed reconnects leave RSS, file descriptors and timers flat', async () => {
    const { dir, cleanup } = tempDir('cmdop-soak-');
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keySize: 2048 });
    // 1: a port nobody listens on.
    const probe = createTcpServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const refusedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    // 2: TLS that hangs up right after the handshake.
    const hangup = createTlsServer({ key: pems.private, cert: pems.cert }, (s) => s.destroy()).listen(0, '127.0.0.1');
    // 3: an HTTPS server that refuses every upgrade with 503.
    const busy = createHttpsServer({ key: pems.private, cert: pems.cert });
    busy.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n'));
    busy.listen(0, '127.0.0.1');
    await Promise.all([hangup, busy].map((s) => new Promise((r) => (s.listening ? r(null) : s.once('listening', r)))));
    const urls = [`wss://127.0.0.1:${refusedPort}`, `wss://127.0.0.1:${(hangup.address() as AddressInfo).port}`, `wss://127.0.0.1:${(busy.address() as AddressInfo).port}`];

    const identity = Identity.loadOrCreate(join(dir, 'state'));
    const figures: string[] = [];
    for (const url of urls) {
      const link = new RelayLink({
        url,
        insecure: false,
        identity,
        joinToken: 'cmdj_0000000000000000_' + 'A'.repeat(43),
        hostname: 'soak',
        labels: {},
        log: silentLogger(),
        onStream: (s) => s.abort(new Error('no streams') as never),
        random: () => 0, // no backoff: thousands of attempts in seconds
        connectTimeoutMs: 5000,
      });
      link.start();
      await waitFor('warm-up attempts', () => link.status().reconnects >= 200, 60_000);
      gc();
      const before = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed, fds: fds(), handles: handles() };
      await waitFor('1,000 more failed attempts', () => link.status().reconnects >= 1200, 120_000);
      gc();
      const after = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed, fds: fds(), handles: handles() };
      const attempts = link.status().reconnects;
      expect(link.status().state).not.toBe('online');
      await link.stop();
      figures.push(`${url.split(':')[2]}: ${attempts} attempts, heap ${((after.heap - before.heap) / MiB).toFixed(2)} MiB, RSS ${((after.rss - before.rss) / MiB).toFixed(1)} MiB, fds ${before.fds}->${after.fds}, timers ${before.handles.Timeout ?? 0}->${after.handles.Timeout ?? 0}`);
      // 1,000 attempts: a leak of even 4 KiB each would show as 4 MiB of live heap.
      expect(after.heap - before.heap).toBeLessThan(2 * MiB);
      expect(after.rss - before.rss).toBeLessThan(48 * MiB); // allocator slack, not live data
      expect(after.fds - before.fds).toBeLessThanOrEqual(2); // a socket in flight at the moment of sampling
      for (const kind of ['Timeout', 'TLSWrap', 'TCPSocketWrap']) expect(after.handles[kind] ?? 0).toBeLessThanOrEqual((before.handles[kind] ?? 0) + 2);
    }
    console.log(`agent soak: ${figures.join('; ')}`);
    hangup.close();
    busy.close();
    cleanup();
  });
});
