/**
 * Control-plane figures:
 * - the stream-open cost of the grant check: the same unary call opened with a key scoped by
 *   fleets (selector fleets, a membership) against a full-access key, p50 and p99, interleaved;
 * - fan-out `exec true` over BENCH_FLEET agents (default 200), time to all results, beside
 *   Debian's parallel-ssh running the same command as many times against the throwaway sshd,
 *   both 50 at a time;
 * - audit append throughput of each store (embedded files; PostgreSQL from Debian, fsync off
 *   in the throwaway cluster, so it measures the statement path, not the disk).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { silentLogger } from '../../src/log.js';
import { EmbeddedStore } from '../../src/relay/store/embedded.js';
import { PostgresStore } from '../../src/relay/store/postgres.js';
import type { RelayStore } from '../../src/relay/store/store.js';
import { AuditLog } from '../../src/relay/audit/log.js';
import { loadAuditIdentity } from '../../src/relay/audit/identity.js';
import { figure, percentile, type Figure } from './figures.js';
import { MissingPeer, requirePeer, track } from './peers.js';
import { ROOT } from './procs.js';
import { startSshd } from './sshd.js';
import { startPostgres } from './postgres.js';
import { cli, kill9, startRelay, watch } from './watch.js';

const OPENS = 2000;
const PARALLEL = 50;
const AUDIT_RECORDS = 50_000;

async function timedOpens(client: Client, machine: string, n: number): Promise<number[]> {
  const req = cmdop.v1.Empty.encode({}).finish();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await client.call(machine, 'agent', 'status', req);
    out.push(performance.now() - t0);
  }
  return out;
}

async function grantCheck(relay: Awaited<ReturnType<typeof startRelay>>, admin: Client, machine: string): Promise<Figure[]> {
  // A realistic scoped key: it reaches the machine through one of 50 selector fleets and a membership.
  for (let i = 0; i < 50; i++) await admin.fleets.create(`sel-${i}`, { selector: `tier=t${i}` });
  const target = await admin.fleets.create('bench-target', { selector: 'bench=yes' });
  await admin.machines.update(machine, { labels: { bench: 'yes' } });
  const fleets = (await admin.fleets.list({ limit: 100 })).items.map((f) => f.id);
  const { key, secret } = await admin.keys.issue({ name: 'scoped', grants: [{ on: 'fleets', ids: fleets.filter((f) => f !== target.id), caps: ['info'] }] });
  await admin.fleets.members.add(target.id, key.id, 'viewer');
  const scoped = await Client.connect({ url: relay.url, token: secret, fingerprint: relay.fingerprint });
  const full: number[] = [];
  const narrow: number[] = [];
  await timedOpens(admin, machine, 200); // warm both paths
  await timedOpens(scoped, machine, 200);
  for (let round = 0; round < 10; round++) {
    full.push(...(await timedOpens(admin, machine, OPENS / 10)));
    narrow.push(...(await timedOpens(scoped, machine, OPENS / 10)));
  }
  await scoped.close();
  return [
    figure('stream open with a scoped key, p50', 'ms', percentile(narrow, 50), '<= 1.05x unscoped', { name: 'unscoped key', value: percentile(full, 50) }),
    figure('stream open with a scoped key, p99', 'ms', percentile(narrow, 99), '<= 1.10x unscoped', { name: 'unscoped key', value: percentile(full, 99) }),
  ];
}

async function fanout(dir: string, relay: Awaited<ReturnType<typeof startRelay>>, admin: Client, n: number): Promise<Figure[]> {
  requirePeer('/usr/bin/parallel-ssh', 'pssh');
  await admin.fleets.create('bench-fleet');
  const issued = await admin.call('', 'admin', 'tokens.issue', cmdop.v1.IssueTokenRequest.encode({ unlimited: true, fleet: 'bench-fleet', ttlMs: 3600_000 }).finish());
  const token = cmdop.v1.IssueTokenResponse.decode(issued).secret;
  const agents = watch([join(ROOT, 'dist/test/bench/fleet-agents.js'), relay.url, relay.fingerprint, token, join(dir, 'fleet'), String(n)]);
  await agents.wait(new RegExp(`\\{"online":${n}\\}`), 0, 300_000);
  await admin.fleets.exec('bench-fleet', 'true', { parallel: PARALLEL }); // warm
  const runs: number[] = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const r = await admin.fleets.exec('bench-fleet', 'true', { parallel: PARALLEL });
    runs.push(performance.now() - t0);
    if (r.filter((x) => x.status === 'ok').length !== n) throw new Error(`fan-out: ${r.filter((x) => x.status !== 'ok').length} of ${n} machines did not succeed`);
  }
  agents.child.kill('SIGTERM');

  const sshd = await startSshd(join(dir, 'sshd'));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, Array.from({ length: n }, () => `127.0.0.1:${sshd.port} ${userInfo().username}`).join('\n') + '\n');
  const sshOpts = sshd.args().slice(0, -1).filter((a) => a !== '-p' && a !== String(sshd.port));
  const pssh = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const p = track(spawn('parallel-ssh', ['-h', hosts, '-p', String(PARALLEL), '-t', '0', ...sshOpts.flatMap((o) => ['-x', o]), 'true'], { stdio: ['ignore', 'pipe', 'pipe'] }));
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`parallel-ssh exited ${code}: ${out.split('\n').find((l) => l.includes('FAILURE')) ?? ''}`))));
    });
  const peer: number[] = [];
  for (let i = 0; i < 2; i++) peer.push(await pssh());
  sshd.stop();
  // Best of two each. The peer runs the command through the login user's shell, which under sshd
  // reads ~/.bashrc; whatever that costs on the host is in the peer's figure (see README).
  return [figure(`fan-out exec true over ${n} agents (${PARALLEL} at a time), all results`, 'ms', Math.min(...runs), '<= 1.0x parallel-ssh', { name: `parallel-ssh x${n}`, value: Math.min(...peer) })];
}

async function auditThroughput(name: string, store: RelayStore, dir: string): Promise<Figure> {
  const log = await AuditLog.open(store, loadAuditIdentity(dir), silentLogger());
  await log.flushed();
  const t0 = performance.now();
  for (let i = 0; i < AUDIT_RECORDS; i++) log.emit('stream.close', { key: 'k', machine: 'm', service: 'terminal', method: 'execute', code: 'ok', bytesUp: i, bytesDown: i, durationMs: 1 });
  await log.flushed();
  const rate = AUDIT_RECORDS / ((performance.now() - t0) / 1000);
  await log.stop();
  await store.close();
  return figure(`audit append, ${name} store (signed, chained)`, 'records/s', rate, '>= 10000 records/s');
}

export async function controlBench(fleetSize: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-bench-control-'));
  const figs: Figure[] = [];
  try {
    const relayDir = join(dir, 'relay');
    const relay = await startRelay(relayDir);
    const secret = await cli(['keys', 'issue', '--name', 'bench', '--data-dir', relayDir]);
    const token = await cli(['tokens', 'issue', '--data-dir', relayDir]);
    const one = watch([join(ROOT, 'dist/test/bench/fleet-agents.js'), relay.url, relay.fingerprint, token, join(dir, 'one'), '1']);
    await one.wait(/\{"online":1\}/);
    const admin = await Client.connect({ url: relay.url, token: secret, fingerprint: relay.fingerprint, timeoutMs: 60_000 });
    figs.push(...(await grantCheck(relay, admin, 'fleet-0')));
    one.child.kill('SIGTERM');
    try {
      figs.push(...(await fanout(dir, relay, admin, fleetSize)));
    } catch (err) {
      // The other figures still count; a missing peer is a skip, anything else fails the run.
      if (err instanceof MissingPeer) process.stderr.write(`bench: control: skipped fan-out: ${err.message}\n`);
      else {
        process.stderr.write(`bench: control: fan-out failed: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    } finally {
      await admin.close();
      await kill9(relay.r);
    }
    figs.push(await auditThroughput('embedded', new EmbeddedStore(join(dir, 'audit-embedded')), join(dir, 'audit-embedded')));
    const pg = await startPostgres();
    figs.push(await auditThroughput('postgres', await PostgresStore.open(pg.url), join(dir, 'audit-pg')));
    pg.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figs;
}
