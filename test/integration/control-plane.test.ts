/**
 * The control plane end to end: scoped keys refused at the relay and again at the agent, fleets
 * and members, fan-out over a fleet, expiry that cuts a live link, and who may read the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { CLI, run, start } from '../helpers/procs.js';
import { rejection, withTimeout } from '../helpers/wait.js';
import type { Client } from '../../src/client/client.js';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import type { Agent } from '../../src/agent/agent.js';
import { AuthError, NotFoundError, PermissionError } from '../../src/errors.js';

/** A raw tunnel.connect stream: resolves with the error that ends it. */
async function tunnelRefusal(client: Client, machine: string): Promise<Error & { detail?: string }> {
  const req = cmdop.v1.TunnelConnectRequest.encode({ host: '127.0.0.1', port: 9 }).finish();
  const s = await client.stream(machine, { service: 'tunnel', method: 'connect', request: req, end: false });
  return new Promise((resolve) => s.handle({ onClose: (err) => resolve(err ?? new Error('closed cleanly')) }));
}

const rejects = rejection;

describe('scoped keys and fleets', () => {
  let c: Cluster;
  let admin: Client;
  let scoped: Client;
  let scopedKeyId = '';
  let a1: Agent;

  beforeAll(async () => {
    c = await startCluster();
    admin = await c.client();
    await admin.fleets.create('fleet-a', { selector: 'env=a' });
    await admin.fleets.create('fleet-b', { selector: 'env=b' });
    a1 = await c.startAgent('a1', { labels: { env: 'a' } });
    const b1 = await c.startAgent('b1', { labels: { env: 'b' } });
    await Promise.all([a1.online(), b1.online()]);
    const fa = await admin.fleets.get('fleet-a');
    const { key, secret } = await admin.keys.issue({ name: 'support-ana', grants: [{ on: 'fleets', ids: [fa.id], caps: ['exec', 'terminal:observe', 'files:read', 'info'] }] });
    scopedKeyId = key.id;
    scoped = await c.client({ token: secret });
  });
  afterAll(() => c.close());

  it('lists only the machines in reach; get of another says not found', async () => {
    expect((await scoped.machines.list()).items.map((m) => m.hostname)).toEqual(['a1']);
    expect(await rejects(scoped.machines.get('b1'))).toBeInstanceOf(NotFoundError);
    expect((await admin.fleets.machines.list('fleet-a')).items.map((m) => m.hostname)).toEqual(['a1']);
  });

  it('refuses exec, terminals, files and tunnels on a machine of another fleet with a PermissionError', async () => {
    scoped.terminal.setMachine('b1');
    scoped.files.setMachine('b1');
    for (const p of [scoped.terminal.execute('true'), scoped.terminal.create(), scoped.files.list('/'), tunnelRefusal(scoped, 'b1').then((e) => Promise.reject(e))]) {
      const e = await rejects(p);
      expect(e).toBeInstanceOf(PermissionError);
      expect(e.detail).toBe('missing_grant');
    }
    scoped.terminal.setMachine('a1');
    expect((await scoped.terminal.execute('echo in-reach')).output).toBe('in-reach\n');
  });

  it('a files:read key reads but cannot write, and cannot open tunnels', async () => {
    scoped.files.setMachine('a1');
    expect((await scoped.files.list('/')).entries.length).toBeGreaterThan(0);
    const e = await rejects(scoped.files.write('/tmp/should-not-exist-cmdop', 'x'));
    expect(e).toBeInstanceOf(PermissionError);
    expect(e.message).toContain('files:write');
    expect(await tunnelRefusal(scoped, 'a1')).toBeInstanceOf(PermissionError);
  });

  it('an observe-only key cannot send input: the relay refuses terminal.input, the agent refuses an operator attach', async () => {
    admin.terminal.setMachine('a1');
    const s = await admin.terminal.create();
    scoped.terminal.setMachine('a1');
    const relayRefusal = await rejects(scoped.terminal.sendInput(s.id, 'echo hi\n'));
    expect(relayRefusal).toBeInstanceOf(PermissionError);
    // The relay lets an observe-only key attach (the role is in the request); the agent checks it.
    const agentRefusal = await rejects(scoped.terminal.stream({ mode: 'operator', autoReconnect: false }).attach(s.id));
    expect(agentRefusal).toBeInstanceOf(PermissionError);
    expect(agentRefusal.message).toContain('observe');
    const obs = scoped.terminal.stream({ mode: 'observer', autoReconnect: false });
    expect((await obs.attach(s.id)).id).toBe(s.id);
    obs.close();
  });

  it('a non-admin key cannot issue keys, change fleets or read other keys’ audit records', async () => {
    expect(await rejects(scoped.keys.issue({ name: 'x' }))).toBeInstanceOf(PermissionError);
    expect(await rejects(scoped.keys.list())).toBeInstanceOf(PermissionError);
    expect(await rejects(scoped.fleets.create('mine'))).toBeInstanceOf(PermissionError);
    expect(await rejects(scoped.fleets.update('fleet-a', { selector: 'env=b' }))).toBeInstanceOf(PermissionError);
    expect(await rejects(scoped.fleets.get('fleet-b'))).toBeInstanceOf(NotFoundError);
    const adminKey = (await admin.keys.list()).find((k) => k.name === 'test')!;
    expect(await rejects(scoped.audit.list({ key: adminKey.id }))).toBeInstanceOf(PermissionError);
    await c.relay.audit.flushed();
    const own = await scoped.audit.list({ limit: 1000 });
    expect(own.items.length).toBeGreaterThan(0);
    expect(own.items.every((e) => e.keyId === scopedKeyId)).toBe(true);
  });

  it('membership gives a role on the fleet; removing it takes the reach away', async () => {
    const { key, secret } = await admin.keys.issue({ name: 'member', grants: [{ on: 'machines', ids: [(await admin.machines.get('b1')).id], caps: ['info'] }] });
    const m = await c.client({ token: secret });
    expect((await m.machines.list()).items.map((x) => x.hostname)).toEqual(['b1']);
    await admin.fleets.members.add('fleet-a', key.id, 'operator');
    expect((await m.machines.list()).items.map((x) => x.hostname).sort()).toEqual(['a1', 'b1']);
    m.terminal.setMachine('a1');
    expect((await m.terminal.execute('echo op')).output).toBe('op\n');
    expect((await admin.fleets.members.list('fleet-a')).items.map((x) => [x.keyName, x.role])).toEqual([['member', 'operator']]);
    await admin.fleets.members.set_role('fleet-a', key.id, 'viewer');
    expect(await rejects(m.terminal.execute('true'))).toBeInstanceOf(PermissionError);
    await admin.fleets.members.remove('fleet-a', key.id);
    expect((await m.machines.list()).items.map((x) => x.hostname)).toEqual(['b1']);
  });

  it('the CLI: fleets, scoped keys printed once, members, and the audit log, each with --json', async () => {
    const conn = ['--url', c.relay.url, '--token', c.apiKey, '--fingerprint', c.relay.fingerprint];
    const cmd = async (...args: string[]) => {
      const r = await run('cmdop', [...args, ...conn]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    const fleet = JSON.parse((await cmd('fleets', 'create', 'cli-fleet', '--selector', 'env=a', '--json')).stdout) as { id: string; machineCount: number };
    expect(fleet.machineCount).toBe(1);
    expect((await cmd('fleets', 'attach', 'cli-fleet', 'b1')).stdout).toMatch(/b1 attached to cli-fleet/);
    const got = JSON.parse((await cmd('fleets', 'get', 'cli-fleet', '--json')).stdout) as { machines: { hostname: string }[] };
    expect(got.machines.map((m) => m.hostname).sort()).toEqual(['a1', 'b1']);
    const issued = await cmd('keys', 'issue', '--name', 'support-cli', '--fleet', 'cli-fleet', '--allow', 'terminal,files:read', '--ttl', '4h');
    const secret = issued.stdout.trim();
    expect(secret).toMatch(/^cmdk_/);
    expect(issued.stderr).toMatch(/fleets \S+: terminal, files:read/);
    const listed = JSON.parse((await cmd('keys', 'list', '--json')).stdout) as { name: string; expires: string | null }[];
    expect(listed.find((k) => k.name === 'support-cli')!.expires).not.toBeNull();
    expect((await cmd('keys', 'list')).stdout).not.toContain(secret.slice(22));
    const keyId = secret.split('_')[1]!;
    await cmd('fleets', 'members', 'add', 'cli-fleet', keyId, '--role', 'operator');
    expect(JSON.parse((await cmd('fleets', 'members', 'cli-fleet', '--json')).stdout)).toMatchObject([{ keyId, role: 'operator' }]);
    await cmd('fleets', 'detach', 'cli-fleet', 'b1');
    await c.relay.audit.flushed();
    const audit = (await cmd('audit', '--type', 'fleet.*', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(audit.map((e) => e.type)).toEqual(expect.arrayContaining(['fleet.created', 'fleet.machine.attached', 'fleet.member.added', 'fleet.machine.detached']));
    // --follow keeps printing records as they are made.
    const follow = start(process.execPath, [CLI('cmdop'), 'audit', '--follow', '--json', '--type', 'fleet.*', ...conn]);
    try {
      await follow.waitFor(/fleet\.machine\.detached/, 15_000);
      await cmd('fleets', 'update', 'cli-fleet', '--description', 'followed');
      await follow.waitFor(/"type":"fleet\.updated"/, 15_000);
    } finally {
      await follow.kill();
    }
    expect((await cmd('audit', 'verify')).stdout).toMatch(/^ok: \d+ records in 1 chain\(s\) verify/);
    const denied = await run('cmdop', ['fleets', 'create', 'nope', '--url', c.relay.url, '--token', secret, '--fingerprint', c.relay.fingerprint]);
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toMatch(/permission: creating a fleet needs a key with the admin grant/);
  });

  it('an expired key is refused, and a key that expires while connected is cut at its expiry', async () => {
    const short = await admin.keys.issue({ name: 'brief', ttlMs: 1 });
    expect(await rejects(c.client({ token: short.secret }))).toBeInstanceOf(AuthError);
    const { key, secret } = await admin.keys.issue({ name: 'expiring', ttlMs: 1500 });
    const live = await c.client({ token: secret });
    const cut = new Promise<number>((resolve) => live.on('disconnect', () => resolve(Date.now())));
    const at = await withTimeout(cut, 10_000, 'the expiring key to be cut');
    // Logged for the closing note; the bound itself is the bench's, not the test's.
    process.stderr.write(`[figure] key cut ${at - key.expiresAt!.getTime()} ms after its expiry\n`);
    expect(at).toBeGreaterThanOrEqual(key.expiresAt!.getTime());
  });
});

describe('fan-out over a fleet', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster();
    const admin = await c.client();
    await admin.fleets.create('edge');
    for (const name of ['ok1', 'fail1', 'hang1', 'off1']) {
      const token = await c.joinToken({ fleet: 'edge' });
      await (await c.startAgentWithToken(name, token)).online();
    }
    await c.stopAgent('off1');
  });
  afterAll(() => c.close());

  const script = 'case "$CMDOP_HOSTNAME" in fail1) echo bad; exit 1;; hang1) echo start; sleep 60;; esac; echo "line one from $CMDOP_HOSTNAME"; printf "partial-"; echo "joined"';

  it('names each machine in the summary, exits non-zero, and loses no output (CLI)', async () => {
    const r = await run('cmdop', ['exec', '--fleet', 'edge', '--timeout', '2s', '--url', c.relay.url, '--token', c.apiKey, '--fingerprint', c.relay.fingerprint, '--', script]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').sort();
    expect(lines).toEqual(['fail1: bad', 'hang1: start', 'ok1: line one from ok1', 'ok1: partial-joined'].sort());
    expect(r.stderr).toMatch(/1\/4 ok/);
    expect(r.stderr).toMatch(/fail1\s+failed\s+exit 1/);
    expect(r.stderr).toMatch(/hang1\s+timeout/);
    expect(r.stderr).toMatch(/off1\s+offline/);
  });

  it('gives one record per machine with --json, and the SDK the same results', async () => {
    const r = await run('cmdop', ['exec', '--fleet', 'edge', '--timeout', '2s', '--json', '--url', c.relay.url, '--token', c.apiKey, '--fingerprint', c.relay.fingerprint, '--', script]);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { hostname: string; status: string; exitCode: number | null });
    expect(Object.fromEntries(recs.map((x) => [x.hostname, x.status]))).toEqual({ ok1: 'ok', fail1: 'failed', hang1: 'timeout', off1: 'offline' });
    const client = await c.client();
    const lines: string[] = [];
    const res = await client.fleets.exec('edge', script, { timeoutMs: 2000, parallel: 2, onLine: (m, l) => lines.push(`${m.hostname}: ${l}`) });
    expect(res.find((x) => x.machine.hostname === 'fail1')!.exitCode).toBe(1);
    // CMDOP_FLEET_ID is the default fleet of fleet-scoped calls.
    process.env.CMDOP_FLEET_ID = 'edge';
    try {
      expect((await client.fleets.get()).name).toBe('edge');
      expect((await client.fleets.machines.list('')).items.map((m) => m.hostname).sort()).toEqual(['fail1', 'hang1', 'off1', 'ok1']);
    } finally {
      delete process.env.CMDOP_FLEET_ID;
    }
    expect(lines.sort()).toEqual(['fail1: bad', 'hang1: start', 'ok1: line one from ok1', 'ok1: partial-joined'].sort());
  });

  it('cp writes one file to every online machine of the fleet', async () => {
    const { writeFileSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const src = join(c.dir, 'config.yml');
    writeFileSync(src, 'k: v\n');
    const dst = join(c.dir, 'fleet-copy.yml');
    const r = await run('cmdop', ['cp', src, `fleet:edge:${dst}`, '--url', c.relay.url, '--token', c.apiKey, '--fingerprint', c.relay.fingerprint]);
    expect(r.code).toBe(1); // off1 is offline
    expect(r.stderr).toMatch(/3\/4 ok/);
    expect(readFileSync(dst, 'utf8')).toBe('k: v\n');
  });
});
