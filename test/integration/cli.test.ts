import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { silentLogger } from '../../src/log.js';
import { AGENT_SETTINGS, type AgentConfig } from '../../src/agent/config.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { tempDir } from '../helpers/tmp.js';
import { relayProcess, run, type Proc } from '../helpers/procs.js';

describe('cmdop-relay and cmdop CLIs against a relay process', () => {
  const { dir, cleanup } = tempDir();
  const relayDir = join(dir, 'relay');
  let relay: Proc & { url: string; fingerprint: string };
  let agent: Agent;
  let key = '';
  const env = () => ({ CMDOP_BASE_URL: relay.url, CMDOP_TOKEN: key, CMDOP_FINGERPRINT: relay.fingerprint, CMDOP_PROFILE: join(dir, 'no-profile.json') });

  beforeAll(async () => {
    relay = await relayProcess(relayDir);
    key = (await run('cmdop-relay', ['keys', 'issue', '--name', 'ci', '--data-dir', relayDir])).stdout.trim();
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--ttl', '10m', '--labels', 'role=db', '--data-dir', relayDir])).stdout.trim();
    const { values } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
    agent = await Agent.start({ config: { ...values, relay: relay.url, fingerprint: relay.fingerprint, token, stateDir: join(dir, 'agent'), hostname: 'cli-host' }, log: silentLogger(), local: false });
    await agent.online();
  });
  afterAll(async () => {
    await agent.stop();
    await relay.kill();
    cleanup();
  });

  it('cmdop machines lists the host online, as a table and as JSON', async () => {
    const table = await run('cmdop', ['machines'], env());
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^HOSTNAME\s+ID\s+PRESENCE/);
    expect(table.stdout).toMatch(/cli-host\s+\S+\s+online/);
    const json = await run('cmdop', ['machines', '--json'], env());
    const list = JSON.parse(json.stdout) as Array<{ hostname: string; presence: string; labels: Record<string, string> }>;
    expect(list.find((m) => m.hostname === 'cli-host')).toMatchObject({ presence: 'online', labels: { role: 'db' } });
  });

  it('keys go through the running relay: revoke takes effect at once', async () => {
    const other = (await run('cmdop-relay', ['keys', 'issue', '--json', '--data-dir', relayDir])).stdout;
    const { id, secret } = JSON.parse(other) as { id: string; secret: string };
    expect((await run('cmdop', ['machines'], { ...env(), CMDOP_TOKEN: secret })).code).toBe(0);
    const list = JSON.parse((await run('cmdop-relay', ['keys', 'list', '--json', '--data-dir', relayDir])).stdout) as Array<{ id: string }>;
    expect(list.map((k) => k.id)).toContain(id);
    expect(JSON.stringify(list)).not.toContain(secret.slice(22));
    const revoked = await run('cmdop-relay', ['keys', 'revoke', id, '--data-dir', relayDir]);
    expect(revoked.stdout).toMatch(/revoked/);
    const denied = await run('cmdop', ['machines'], { ...env(), CMDOP_TOKEN: secret });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe('cmdop: auth: invalid or revoked API key\n');
  });

  it('errors are one line with a non-zero exit; --help works on every command', async () => {
    const bad = await run('cmdop', ['machines', '--presence', 'sideways'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const unknownFlag = await run('cmdop', ['machines', '--bogus'], env());
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).not.toMatch(/\n\s+at /);
    for (const [cli, cmd] of [['cmdop', ['machines']], ['cmdop-relay', ['keys', 'issue']], ['cmdop-relay', ['serve']], ['cmdop-agent', ['run']], ['cmdop-agent', ['status']]] as const) {
      const h = await run(cli, [...cmd, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/^usage: /);
    }
    const nowhere = await run('cmdop', ['machines', '--timeout', '2000'], { ...env(), CMDOP_BASE_URL: 'wss://127.0.0.1:1' });
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(/^cmdop: connection: cannot connect/);
  });
});
