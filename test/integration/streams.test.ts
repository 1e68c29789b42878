import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { tcpServer } from '../helpers/net.js';
import { createHash, randomBytes } from 'node:crypto';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { PermissionError, UnavailableError } from '../../src/errors.js';
import type { Stream } from '../../src/protocol/stream.js';
import { DEFAULT_WINDOW, GRANT_BATCH } from '../../src/protocol/limits.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import type { Client } from '../../src/client/client.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

async function tunnel(client: Client, machine: string, port: number, host = '127.0.0.1'): Promise<Stream> {
  return client.stream(machine, { service: 'tunnel', method: 'connect', request: cmdop.v1.TunnelConnectRequest.encode({ host, port }).finish() });
}

/** Reads a stream to its end; returns sha256 and byte count. */
function drain(s: Stream): Promise<{ bytes: number; sha: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) =>
    s.handle({
      onData: (c) => {
        bytes += c.length;
        h.update(c);
      },
      onClose: (e) => (e ? reject(e) : resolve({ bytes, sha: h.digest('hex') })),
    }),
  );
}

describe('streams through the relay (tunnel.connect to real TCP servers)', () => {
  let c: Cluster;
  let client: Client;
  beforeAll(async () => {
    c = await startCluster();
    await (await c.startAgent('box')).online();
    client = await c.client();
  });
  afterAll(async () => {
    await c.close();
  });

  it('carries 32 MiB both ways intact, with half-close', async () => {
    const { server, port } = await tcpServer((s) => s.pipe(s)); // echo, ends when the client ends
    const s = await tunnel(client, 'box', port);
    const data = randomBytes(32 * 1024 * 1024);
    const h = createHash('sha256');
    let bytes = 0;
    let off = 0;
    const pump = () => {
      while (off < data.length) {
        const chunk = data.subarray(off, off + 256 * 1024);
        off += chunk.length;
        if (!s.write(chunk)) return;
      }
      s.end();
    };
    const done = new Promise<void>((resolve, reject) =>
      s.handle({
        onData: (c) => {
          bytes += c.length;
          h.update(c);
        },
        onDrain: pump,
        onClose: (e) => (e ? reject(e) : resolve()),
      }),
    );
    pump();
    await withTimeout(done, 30_000, 'echo of 32 MiB');
    expect(bytes).toBe(data.length);
    expect(h.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    server.close();
  });

  it('a reader that stops reading stalls the sender at the window: nothing buffers without bound', async () => {
    let serverSock: Socket | undefined;
    const { server, port } = await tcpServer((s) => {
      serverSock = s;
      // The server floods the client, which will not read.
      const chunk = Buffer.alloc(64 * 1024, 7);
      const flood = () => {
        while (s.write(chunk));
      };
      s.on('drain', flood);
      flood();
    });
    const s = await tunnel(client, 'box', port);
    s.autoConsume = false;
    let received = 0;
    s.handle({ onData: (c) => (received += c.length) });
    // A flow.v2 sender keeps at least what the receiver needs before it grants back in flight
    // (GRANT_BATCH), and never more than the receiver's window.
    await waitFor('the window to fill', () => received >= Math.min(DEFAULT_WINDOW / 2, GRANT_BATCH), 10_000);
    // Wait for the whole pipeline to stall back to the server, then check nothing overshot.
    await waitFor('server socket to back up', () => (serverSock?.writableLength ?? 0) > 0, 10_000);
    const stalledAt = received;
    expect(received).toBeLessThanOrEqual(DEFAULT_WINDOW);
    // Reading again lets it flow.
    s.consume(received);
    await waitFor('flow to resume', () => received > stalledAt, 10_000);
    s.abort(new UnavailableError('test done'));
    server.close();
  });

  it('a bulk stream does not starve an interactive one on the same link', async () => {
    const { server: bulkSrv, port: bulkPort } = await tcpServer((s) => {
      const chunk = Buffer.alloc(256 * 1024, 1);
      const flood = () => {
        while (s.write(chunk));
      };
      s.on('drain', flood);
      s.on('error', () => undefined);
      flood();
    });
    const { server: echoSrv, port: echoPort } = await tcpServer((s) => s.pipe(s));
    const bulk = await tunnel(client, 'box', bulkPort);
    let bulkBytes = 0;
    bulk.handle({ onData: (c) => (bulkBytes += c.length) });
    await waitFor('bulk to flow', () => bulkBytes > 4 * 1024 * 1024, 10_000);
    const echo = await tunnel(client, 'box', echoPort);
    const rtts: number[] = [];
    await new Promise<void>((resolve) => {
      let t0 = 0;
      const ping = () => {
        t0 = performance.now();
        echo.write(new Uint8Array([1]));
      };
      echo.handle({
        onData: () => {
          rtts.push(performance.now() - t0);
          if (rtts.length < 20) ping();
          else resolve();
        },
      });
      ping();
    });
    const sorted = rtts.sort((a, b) => a - b);
    console.log(`echo RTT under a saturating bulk stream: p50 ${sorted[10]!.toFixed(2)} ms, max ${sorted[19]!.toFixed(2)} ms; bulk moved ${(bulkBytes / 1048576).toFixed(0)} MiB`);
    expect(sorted[10]!).toBeLessThan(200);
    bulk.abort(new UnavailableError('done'));
    echo.abort(new UnavailableError('done'));
    bulkSrv.close();
    echoSrv.close();
  });

  it('targets outside the allowlist are refused with PermissionError; closed ports with UnavailableError', async () => {
    const s = await tunnel(client, 'box', 80, '10.255.255.1');
    await expect(drain(s)).rejects.toBeInstanceOf(PermissionError);
    const { server, port } = await tcpServer(() => undefined);
    server.close();
    await new Promise((r) => server.once('close', r));
    const s2 = await tunnel(client, 'box', port);
    await expect(drain(s2)).rejects.toThrow(/connection refused/);
  });

  it('a reset on the target aborts the stream; the client aborting resets the target connection', async () => {
    const { server, port } = await tcpServer((s) => s.resetAndDestroy());
    const s = await tunnel(client, 'box', port);
    await expect(drain(s)).rejects.toThrow(/reset|closed/);
    let serverSaw = '';
    let accepted = false;
    const { server: srv2, port: port2 } = await tcpServer((sock) => {
      accepted = true;
      sock.on('error', (e: NodeJS.ErrnoException) => (serverSaw = e.code ?? 'error'));
      sock.on('close', () => (serverSaw ||= 'closed'));
    });
    const s2 = await tunnel(client, 'box', port2);
    s2.write(new Uint8Array([1]));
    await waitFor('server to see the connection', () => accepted, 5000);
    s2.abort(new UnavailableError('client gave up'));
    await waitFor('server side to be reset', () => serverSaw, 5000);
    expect(serverSaw).toMatch(/ECONNRESET|closed/);
    server.close();
    srv2.close();
  });
});
