/**
 * The audit log: what ran is recorded by the agent, signed and chained; records queued while the
 * relay is away are uploaded exactly once; and editing, deleting or reordering one line of the
 * relay's or the agent's file makes `audit verify` fail and name the first bad record.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { startCluster } from '../helpers/cluster.js';
import { agentProcess, relayProcess, run } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Client } from '../../src/client/client.js';

async function allEvents(client: Client) {
  const out = [];
  for await (const e of client.audit.iter()) out.push(e);
  return out;
}

describe('audit log', () => {
  it('records what ran, uploads records queued while the relay was down exactly once, and verifies', async () => {
    const c = await startCluster();
    try {
      const agent = await c.startAgent('aud');
      await agent.online();
      const client = await c.client();
      client.terminal.setMachine('aud');
      await client.terminal.execute('echo audited-command');
      await waitFor('the exec record to reach the relay', async () => (await allEvents(client)).find((e) => e.type === 'agent.terminal.execute'));
      const events = await allEvents(client);
      const exec = events.find((e) => e.type === 'agent.terminal.execute')!;
      expect(JSON.parse((exec.fields.agent as { body: string }).body).command).toBe('echo audited-command');
      const close = events.find((e) => e.type === 'stream.close' && e.fields.method === 'execute')!;
      expect(close.fields).toMatchObject({ service: 'terminal', code: 'ok' });
      expect(close.fields.bytesDown as number).toBeGreaterThan(0);
      expect(events.some((e) => e.type === 'link.up')).toBe(true);
      // A failed authentication is recorded with the remote address.
      await expect(Client.connect({ url: c.relay.url, token: `cmdk_${'0'.repeat(16)}_${'A'.repeat(43)}`, fingerprint: c.relay.fingerprint, timeoutMs: 5000 })).rejects.toThrow(/invalid or revoked/);
      const failed = await waitFor('the failed authentication record', async () => (await allEvents(client)).find((e) => e.type === 'auth.failed'));
      expect(failed.fields).toMatchObject({ code: 'auth' });
      expect(String(failed.fields.remote)).toMatch(/127\.0\.0\.1$/);
      await client.close();

      // The relay goes away; the agent goes on recording what local clients run.
      const port = c.relay.port;
      await c.relay.stop();
      const local = await Client.local({ infoPaths: [join(c.dir, 'aud', 'run', 'agent.info')] });
      for (let i = 0; i < 20; i++) await local.terminal.execute(`echo offline-${i}`);
      await local.close();
      const queued = agent.audit.lastSeq;
      expect(agent.audit.pendingCount).toBeGreaterThanOrEqual(20);

      await c.restartRelayOn(port);
      await agent.online(15_000);
      const again = await c.client();
      await waitFor('the queued records to be uploaded', () => agent.audit.pendingCount === 0, 20_000);
      // And once more across another restart: nothing is sent twice.
      await c.restartRelayOn(port);
      await agent.online(15_000);
      const after = await c.client();
      await c.relay.audit.flushed();
      const agentRows = (await allEvents(after)).filter((e) => e.type.startsWith('agent.'));
      const seqs = agentRows.map((e) => JSON.parse(JSON.stringify(e.fields.agent)).seq as number);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(Math.max(...seqs)).toBe(queued);
      expect(seqs.length).toBe(queued);
      const verdict = await after.audit.verify();
      expect(verdict).toMatchObject({ ok: true });
      await again.close();
      await after.close();
    } finally {
      await c.close();
    }
  });

  it('editing, deleting or reordering one line of either file makes verify fail and name the first bad record', async () => {
    const c = await startCluster();
    try {
      const agent = await c.startAgent('tamper');
      await agent.online();
      const client = await c.client();
      client.terminal.setMachine('tamper');
      for (let i = 0; i < 5; i++) await client.terminal.execute(`echo t${i}`);
      await waitFor('every agent record uploaded', () => agent.audit.pendingCount === 0, 10_000);
      await client.close();
      await c.relay.stop();
      await agent.stop();

      const relayDir = join(c.dir, 'relay');
      const relayFile = join(relayDir, 'audit.jsonl');
      const agentState = join(c.dir, 'tamper', 'state');
      const agentFile = join(agentState, 'audit', 'events.jsonl');
      const verifyRelay = () => run('cmdop-relay', ['audit', 'verify', '--data-dir', relayDir]);
      const verifyAgent = () => run('cmdop-agent', ['audit', 'verify', '--state-dir', agentState]);
      const r0 = await verifyRelay();
      expect(r0.code, r0.stdout + r0.stderr).toBe(0);
      const a0 = await verifyAgent();
      expect(a0.code, a0.stdout + a0.stderr).toBe(0);

      for (const [file, verify] of [[relayFile, verifyRelay], [agentFile, verifyAgent]] as const) {
        const original = readFileSync(file, 'utf8');
        const lines = original.trimEnd().split('\n');
        expect(lines.length).toBeGreaterThan(4);
        const seqOf = (l: string) => (JSON.parse(l) as { chain: string; seq: number });
        const edits: Array<[string, string[], string]> = [
          ['edited', lines.map((l, i) => (i === 2 ? l.replace(/\\"ts\\":(\d+)/, (_m, n: string) => `\\"ts\\":${Number(n) + 1}`) : l)), `${seqOf(lines[2]!).chain}#${seqOf(lines[2]!).seq}`],
          ['deleted', lines.filter((_l, i) => i !== 2), `${seqOf(lines[3]!).chain}#${seqOf(lines[3]!).seq}`],
          ['reordered', lines.map((l, i) => (i === 2 ? lines[3]! : i === 3 ? lines[2]! : l)), `${seqOf(lines[3]!).chain}#${seqOf(lines[3]!).seq}`],
        ];
        for (const [what, changed, bad] of edits) {
          writeFileSync(file, changed.join('\n') + '\n');
          const r = await verify();
          expect(r.code, `${what} ${file}`).toBe(1);
          expect(r.stdout, `${what} ${file}`).toContain(`BROKEN at ${bad}`);
        }
        writeFileSync(file, original);
      }
    } finally {
      await c.close();
    }
  });

  it('the relay killed (SIGKILL) while audit records stream in: after restart none is missing or duplicated', async () => {
    const { dir, cleanup } = tempDir();
    const relayDir = join(dir, 'relay');
    let relay = await relayProcess(relayDir);
    let agent: Awaited<ReturnType<typeof agentProcess>> | undefined;
    try {
      const token = (await run('cmdop-relay', ['tokens', 'issue', '--data-dir', relayDir])).stdout.trim();
      const key = (await run('cmdop-relay', ['keys', 'issue', '--name', 'k', '--data-dir', relayDir])).stdout.trim();
      agent = await agentProcess(join(dir, 'agent'), relay, token, 'streamer');
      const connect = () => Client.connect({ url: relay.url, token: key, fingerprint: relay.fingerprint, timeoutMs: 5000 });
      const client = await connect();
      client.terminal.setMachine('streamer');
      // Records stream in (each exec is a record on the agent and several on the relay) ...
      const load = (async () => {
        for (let i = 0; i < 400; i++) await client.terminal.execute(`echo ${i}`).catch(() => undefined);
      })();
      await waitFor('some records on the relay', () => readFileSync(join(relayDir, 'audit.jsonl'), 'utf8').includes('"agentSeq":20'), 20_000);
      // ... when the relay is killed mid-write.
      await relay.kill('SIGKILL');
      await client.close();
      await load;
      relay = await relayProcess(relayDir, relay.port);
      const agentFile = join(dir, 'agent', 'state', 'audit', 'events.jsonl');
      const lastAgentSeq = () => (JSON.parse(readFileSync(agentFile, 'utf8').trimEnd().split('\n').pop()!) as { seq: number }).seq;
      const stored = () =>
        readFileSync(join(relayDir, 'audit.jsonl'), 'utf8')
          .trimEnd()
          .split('\n')
          .map((l) => (JSON.parse(l) as { agentSeq: number | null }).agentSeq)
          .filter((x): x is number => x !== null);
      await waitFor('every agent record stored after the restart', () => Math.max(0, ...stored()) === lastAgentSeq(), 30_000);
      const seqs = stored();
      expect(seqs).toEqual(Array.from({ length: lastAgentSeq() }, (_v, i) => i + 1));
      await relay.kill();
      const v = await run('cmdop-relay', ['audit', 'verify', '--data-dir', relayDir]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
    } finally {
      await agent?.kill();
      await relay.kill();
      cleanup();
    }
  });

  it('retention prunes old records at start, says so in the log, and the rest still verifies', async () => {
    const c = await startCluster({ auditRetentionMs: 1 });
    try {
      const client = await c.client();
      await client.fleets.create('before-prune');
      await c.relay.audit.flushed();
      await client.close();
      await c.restartRelay(); // records older than 1 ms go at start
      const after = await c.client();
      const pruned = await waitFor('the audit.pruned record', async () => (await allEvents(after)).find((e) => e.type === 'audit.pruned'));
      expect(pruned.fields.records as number).toBeGreaterThan(0);
      expect((await allEvents(after)).some((e) => e.type === 'fleet.created')).toBe(false);
      expect(await after.audit.verify()).toMatchObject({ ok: true });
      await after.close();
    } finally {
      await c.close();
    }
  });
});
