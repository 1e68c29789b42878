/**
 * Tunnel figures: bulk TCP throughput through client -> relay -> agent -> target, side by side
 * with a direct loopback connection to the same server in the same run.
 */
import { createServer, connect, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchCluster } from './cluster.js';
import { figure, rateUntilClose, type Figure } from './figures.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { postgresBinDir, startPostgres } from './postgres.js';
import { startChain } from './tls-chain.js';

const exec = promisify(execFile);

/** pgbench -S (select-only) TPS against a port. Async: the tunnel's listener lives in this process. */
async function pgbenchTps(bin: string, port: number, seconds: number): Promise<number> {
  const { stdout } = await exec(bin, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-S', '-T', String(seconds), '-c', '4', '-j', '2', '-n', 'postgres']);
  const m = /tps = ([\d.]+)/.exec(stdout);
  if (!m) throw new Error(`pgbench printed no tps: ${stdout}`);
  return Number(m[1]);
}

/** pgbench -S through a tunnel vs direct and vs the bare chain, with a throwaway cluster; none when PostgreSQL is not installed. */
async function pgbenchFigures(client: Awaited<ReturnType<typeof benchCluster>>['client']): Promise<Figure[]> {
  if (!postgresBinDir()) return [];
  const pg = await startPostgres();
  try {
    await exec(pg.bin('pgbench'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-i', '-q', 'postgres']);
    const t = await client.tunnels.open('bench', { remotePort: pg.port });
    const direct = await pgbenchTps(pg.bin('pgbench'), pg.port, 5);
    const through = await pgbenchTps(pg.bin('pgbench'), t.localPort, 5);
    await t.close();
    const chain = await startChain({ port: pg.port });
    const viaChain = await pgbenchTps(pg.bin('pgbench'), chain.port, 5).finally(() => chain.stop());
    return [
      figure('pgbench -S through a tunnel (4 clients)', 'TPS', through, '>= 0.6x direct', { name: 'pgbench -S direct', value: direct }),
      figure('pgbench -S through a tunnel vs a bare TLS relay chain', 'TPS', through, '>= 0.95x the chain (the design ceiling)', { name: 'bare Node TLS chain, 3 procs', value: viaChain }),
    ];
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
  return rateUntilClose(connect({ port, host: '127.0.0.1' }));
}

export async function tunnelBench(mib: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-nbench-'));
  const bc = await benchCluster(join(dir, 'c'));
  const src = await source(mib * 1024 * 1024);
  try {
    const pgFigs = await pgbenchFigures(bc.client);
    const t = await bc.client.tunnels.open('bench', { remotePort: src.port });
    await download(t.localPort); // warm up
    const direct = await download(src.port);
    const through = await download(t.localPort);
    await t.close();
    const chain = await startChain({ port: src.port });
    const viaChain = await download(chain.port).finally(() => chain.stop());
    const bulk = figure(`tunnel bulk TCP ${mib} MiB download`, 'MB/s', through / 1e6, '>= 0.6x direct', { name: 'direct loopback TCP', value: direct / 1e6 });
    const ceiling = figure(`tunnel bulk TCP ${mib} MiB vs a bare TLS relay chain`, 'MB/s', through / 1e6, '>= 0.95x the chain (the design ceiling)', { name: 'bare Node TLS chain, 3 procs', value: viaChain / 1e6 });
    return [bulk, ceiling, ...pgFigs];
  } finally {
    src.server.close();
    await bc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
