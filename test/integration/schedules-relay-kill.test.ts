/**
 * A schedule every second keeps running while its relay (a real process) is SIGKILLed for a while
 * and restarted; afterwards the relay shows every run, none twice, in order.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { Client } from '../../src/client/client.js';
import { silentLogger } from '../../src/log.js';
import type { ScheduleRun } from '../../src/client/schedules.js';
import { agentConfig } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { relayProcess, run } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

describe('schedules while the relay is down', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('runs every slot offline and uploads each run exactly once when the relay is back', async () => {
    const relayDir = join(dir, 'relay');
    let relay = await relayProcess(relayDir);
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--data-dir', relayDir])).stdout.trim();
    const apiKey = (await run('cmdop-relay', ['keys', 'issue', '--name', 'ops', '--data-dir', relayDir])).stdout.trim();
    const config = agentConfig(dir, 'edge', relay, token);
    const agent = await Agent.start({ config, log: silentLogger(), local: false });
    let client: Client | undefined;
    const runsOf = async (c: Client) => {
      const out: ScheduleRun[] = [];
      for await (const r of c.schedules.iterRuns('beat')) out.push(r);
      return out;
    };
    try {
      await agent.online();
      client = await Client.connect({ url: relay.url, token: apiKey, fingerprint: relay.fingerprint, timeoutMs: 5000 });
      await client.schedules.create({ name: 'beat', machine: 'edge', everyMs: 1000, command: 'echo beat' });
      await waitFor('two runs at the relay', async () => (await runsOf(client!)).length >= 2, 15_000);
      await client.close();
      client = undefined;

      const offline = new Promise((r) => agent.relay!.once('offline', r));
      await relay.kill('SIGKILL');
      await offline;
      // The agent keeps its clock: runs pile up in its journal while nobody can hear them.
      await waitFor('four runs made offline', () => agent.runs.unacknowledged >= 4, 20_000);
      relay = await relayProcess(relayDir, relay.port);
      await agent.online(30_000);
      await waitFor('the journal drained', () => agent.runs.unacknowledged === 0, 30_000);

      client = await Client.connect({ url: relay.url, token: apiKey, fingerprint: relay.fingerprint, timeoutMs: 5000 });
      const runs = await runsOf(client);
      const seqs = runs.map((r) => r.seq);
      expect(seqs).toEqual(Array.from({ length: runs.length }, (_v, i) => i + 1));
      const slots = runs.map((r) => r.slotAt.getTime());
      for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(1000);
      expect(runs.every((r) => r.status === 'ok' && r.outputHead === 'beat\n')).toBe(true);
      expect(runs.length).toBeGreaterThanOrEqual(6);
    } finally {
      await client?.close();
      await agent.stop();
      await relay.kill('SIGTERM');
    }
  }, 120_000);
});
