import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startCluster } from '../helpers/cluster.js';
import { startPostgres } from '../bench/postgres.js';

const run = promisify(execFile);

describe('PostgreSQL through a tunnel', () => {
  it('a real PostgreSQL server is queried through agent -> relay -> client', async () => {
    const pg = await startPostgres();
    const c = await startCluster();
    try {
      await (await c.startAgent('dbhost')).online();
      const client = await c.client();
      const t = await client.tunnels.open('dbhost', { remotePort: pg.port });
      const psql = (sql: string) => run('psql', ['-h', '127.0.0.1', '-p', String(t.localPort), '-U', 'postgres', '-At', '-c', sql], { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
      expect((await psql('select 40 + 2')).stdout.trim()).toBe('42');
      await psql('create table t (id int primary key, v text)');
      await psql("insert into t select g, repeat('x', 100) from generate_series(1, 20000) g");
      expect((await psql('select count(*), sum(length(v)) from t')).stdout.trim()).toBe('20000|2000000');
      // Many clients at once through the same tunnel.
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => psql(`select ${i} * 2`)));
      results.forEach((r, i) => expect(r.stdout.trim()).toBe(String(i * 2)));
      // pgbench's select-only workload through the tunnel.
      await run(pg.bin('pgbench'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-i', '-q', 'postgres']);
      const bench = await run(pg.bin('pgbench'), ['-h', '127.0.0.1', '-p', String(t.localPort), '-U', 'postgres', '-S', '-T', '1', '-c', '4', '-j', '2', '-n', 'postgres']);
      expect(bench.stdout).toMatch(/tps = [1-9]/);
      await t.close();
    } finally {
      await c.close();
      pg.stop();
    }
  });
});
