import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { Client } from '../../src/client/client.js';
import { silentLogger } from '../../src/log.js';
import { AGENT_SETTINGS, type AgentConfig } from '../../src/agent/config.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { tempDir } from '../helpers/tmp.js';
import { relayProcess, run } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

describe('lossless resume', () => {
  it('10 MB of output reaches the client byte for byte across a relay kill and restart', async () => {
    const { dir, cleanup } = tempDir();
    const relayDir = join(dir, 'relay');
    let relay = await relayProcess(relayDir);
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--data-dir', relayDir])).stdout.trim();
    const key = (await run('cmdop-relay', ['keys', 'issue', '--data-dir', relayDir])).stdout.trim();
    const { values } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
    const agent = await Agent.start({ config: { ...values, relay: relay.url, fingerprint: relay.fingerprint, token, stateDir: join(dir, 'agent'), hostname: 'resumer' }, log: silentLogger(), local: false });
    await agent.online();
    const client = await Client.connect({ url: relay.url, token: key, fingerprint: relay.fingerprint, timeoutMs: 10_000 });
    client.terminal.setMachine('resumer');

    const N = 1_400_000; // seq 1..N is 10.2 MB once the tty turns \n into \r\n
    const want = execFileSync('seq', ['1', String(N)], { maxBuffer: 64 * 1024 * 1024 }).toString().replaceAll('\n', '\r\n');
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', `stty -echo; read x; seq 1 ${N}; read y`] });
    const t = client.terminal.stream();
    const hash = createHash('sha256');
    let bytes = 0;
    let disconnects = 0;
    let reconnects = 0;
    let holes = 0;
    const gaps: number[][] = [];
    t.onLiveOutput((b, at) => {
      if (at !== bytes) holes++;
      hash.update(b);
      bytes += b.length;
    });
    t.onGap((from, to) => gaps.push([from, to]));
    t.onDisconnect(() => disconnects++);
    t.onReconnect(() => reconnects++);
    await t.attach(s.id);
    t.sendInput('\n');
    await waitFor('2 MB to arrive', () => bytes > 2_000_000, 20_000);
    await relay.kill('SIGKILL');
    relay = await relayProcess(relayDir, relay.port);
    await waitFor('every byte', () => bytes >= want.length, 60_000);
    expect(disconnects).toBeGreaterThanOrEqual(1);
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect(gaps).toEqual([]);
    expect(holes).toBe(0);
    expect(bytes).toBe(want.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(want).digest('hex'));
    await client.terminal.close(s.id);
    await client.close();
    await agent.stop();
    await relay.kill();
    cleanup();
  });
});
