/**
 * A throwaway PostgreSQL cluster from Debian's packages, started unprivileged on a spare port in a
 * temp dir (as the `postgres` user when running as root), for the tunnel test and bench.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { MissingPeer, onGroupEnd } from './peers.js';
import { join } from 'node:path';
import { userInfo } from 'node:os';

export interface Postgres {
  port: number;
  bin: (name: string) => string;
  /** postgres://user@127.0.0.1:port/postgres */
  url: string;
  stop(): void;
  /** Stops the server but keeps its data (a database restart under a running client). */
  down(): void;
  /** Starts it again on the same port. */
  up(): void;
}

export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const v = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  return v ? join(root, v, 'bin') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a cluster in its own temp dir (the postgres user must be able to reach it); stop() removes it. */
export async function startPostgres(): Promise<Postgres> {
  const binDir = postgresBinDir();
  if (!binDir) throw new MissingPeer('needs PostgreSQL (apt-get install postgresql)');
  const bin = (name: string) => join(binDir, name);
  const root = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]) => (root ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' }) : execFileSync(cmd, args, { stdio: 'pipe' }));
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-pg-'));
  const data = join(dir, 'data');
  if (root) {
    const pw = spawnSync('id', ['-u', 'postgres']).stdout.toString().trim();
    const gid = spawnSync('id', ['-g', 'postgres']).stdout.toString().trim();
    chownSync(dir, Number(pw), Number(gid));
  }
  as(bin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const port = await freePort();
  const up = () => void as(bin('pg_ctl'), ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  const down = () => void as(bin('pg_ctl'), ['-D', data, '-w', '-m', 'fast', 'stop']);
  up();
  const stop = () => {
    try {
      as(bin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  onGroupEnd(stop); // the cluster goes with its group however the group ends
  return { port, bin, stop, up, down, url: `postgres://postgres@127.0.0.1:${port}/postgres` };
}

export const pgUser = () => (process.getuid?.() === 0 ? 'postgres' : userInfo().username);
