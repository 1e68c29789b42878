/**
 * Tunnel figures: bulk TCP throughput through client -> relay -> agent -> target, side by side
 * with a direct loopback connection to the same server in the same run.
 */
import { createServer, connect, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchCluster } from './cluster.js';
import { figure, type Figure } from './figures.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { postgresBinDir, startPostgres } from './postgres.js';

const exec = promisify(execFile);

/** pgbench -S (select-only) TPS against a port. Async: the tunnel's listener lives in this process. */
async function pgbenchTps(bin: string, port: number, seconds: number): Promise<number> {
  const { stdout } = await exec(bin, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-S', '-T', String(seconds), '-c', '4', '-j', '2', '-n', 'postgres']);
  const m = /tps = ([\d.]+)/.exec(stdout);
  if (!m) throw new Error(`pgbench printed no tps: ${stdout}`);
  return Number(m[1]);
}

/** pgbench -S through a tunnel vs direct, with a throwaway cluster; null when PostgreSQL is not installed. */
async function pgbenchFigure(client: Awaited<ReturnType<typeof benchCluster>>['client']): Promise<Figure | null> {
  if (!postgresBinDir()) return null;
  const pg = await startPostgres();
  try {
    await exec(pg.bin('pgbench'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-i', '-q', 'postgres']);
    const t = await client.tunnels.open('bench', { remotePort: pg.port });
    const direct = await pgbenchTps(pg.bin('pgbench'), pg.port, 5);
    const through = await pgbenchTps(pg.bin('pgbench'), t.localPort, 5);
    await t.close();
    return figure('pgbench -S through a tunnel (4 clients)', 'TPS', through, '>= 0.6x direct', { name: 'pgbench -S direct', value: direct });
  } finally {
    pg.stop();
  }
}

/** A server that sends `bytes` to every connection and closes. */
function source(bytes: number): Promise<{ server: Server; port: number }> {
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const server = createServer((s) => {
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      s.end();
    };
    s.on('error', () => undefined);
    pump();
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as { port: number }).port })));
}

function download(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let n = 0;
    const s = connect({ port, host: '127.0.0.1' });
    s.on('data', (d) => (n += d.length));
    s.on('error', reject);
    s.on('close', () => resolve(n / ((performance.now() - t0) / 1000)));
  });
}

export async function tunnelBench(mib: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-nbench-'));
  const bc = await benchCluster(join(dir, 'c'));
  const src = await source(mib * 1024 * 1024);
  try {
    const pgFig = await pgbenchFigure(bc.client);
    const t = await bc.client.tunnels.open('bench', { remotePort: src.port });
    await download(t.localPort); // warm up
    const direct = await download(src.port);
    const through = await download(t.localPort);
    await t.close();
    const bulk = figure(`tunnel bulk TCP ${mib} MiB download`, 'MB/s', through / 1e6, '>= 0.6x direct', { name: 'direct loopback TCP', value: direct / 1e6 });
    return pgFig ? [bulk, pgFig] : [bulk];
  } finally {
    src.server.close();
    await bc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
