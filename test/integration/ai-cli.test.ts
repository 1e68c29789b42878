import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.js';
import { CLI } from '../helpers/procs.js';

/** Runs a CLI with `input` piped to its stdin (not a terminal). */
function runWith(name: 'cmdop' | 'cmdop-agent', args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI(name), ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('cmdop ask and cmdop-agent pin', () => {
  let cluster: Cluster;
  let llm: FakeLlm;
  let stateDir = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    llm = await startFakeLlm();
    cluster = await startCluster();
    stateDir = join(cluster.dir, 'cli-ai', 'state');
    const a = await cluster.startAgent('cli-ai', { aiBaseUrl: llm.url, aiModel: 'fake' });
    await a.online();
    env = { CMDOP_BASE_URL: cluster.relay.url, CMDOP_TOKEN: cluster.apiKey, CMDOP_FINGERPRINT: cluster.relay.fingerprint, CMDOP_PROFILE: join(cluster.dir, 'none.json') };
  });
  afterAll(async () => {
    await cluster.close();
    await llm.close();
  });

  it('pin set refuses a trivial PIN, takes a good one from stdin, and never prints it', async () => {
    const bad = await runWith('cmdop-agent', ['pin', 'set', '--state-dir', stateDir], {}, '123456\n');
    expect(bad).toMatchObject({ code: 1, stderr: 'cmdop-agent: validation: that PIN is too easy to guess (repeated or sequential digits)\n' });
    const good = await runWith('cmdop-agent', ['pin', 'set', '--state-dir', stateDir], {}, '482913\n');
    expect(good.code).toBe(0);
    expect(good.stdout + good.stderr).not.toContain('482913');
    expect((await runWith('cmdop-agent', ['pin', 'status', '--state-dir', stateDir], {})).stdout).toMatch(/^pin set\nfailures 0\nlocked no\n$/);
  });

  it('ask streams the answer with the PIN from CMDOP_PIN; with no terminal every confirm is a no', async () => {
    llm.script({ kind: 'text', text: 'Load is fine.' });
    const ok = await runWith('cmdop', ['ask', 'cli-ai', 'how', 'is', 'the', 'load?', '--type', 'chat'], { ...env, CMDOP_PIN: '482913' });
    expect(ok).toMatchObject({ code: 0, stdout: 'Load is fine.\n' });

    const target = join(cluster.dir, 'cli-made');
    llm.script({ kind: 'tools', calls: [{ name: 'run_command', arguments: JSON.stringify({ command: `touch ${target}` }) }] }, { kind: 'text', text: 'I could not.' });
    const refused = await runWith('cmdop', ['ask', 'cli-ai', 'make a file', '--type', 'terminal', '--pin-stdin'], env, '482913\n');
    expect(refused.code).toBe(0);
    expect(refused.stderr).toContain(`The agent wants to run:\n  touch ${target}`);
    expect(refused.stderr).toContain('refused (no terminal to confirm on)');
    expect(existsSync(target)).toBe(false);

    const noPin = await runWith('cmdop', ['ask', 'cli-ai', 'hi'], env);
    expect(noPin).toMatchObject({ code: 2, stderr: expect.stringMatching(/^cmdop: validation: cli-ai asks for its PIN: set CMDOP_PIN/) });
    const wrong = await runWith('cmdop', ['ask', 'cli-ai', 'hi'], { ...env, CMDOP_PIN: '999999' });
    expect(wrong).toMatchObject({ code: 1, stderr: expect.stringContaining('PIN rejected: wrong PIN') });
  });

  it('pin unlock clears a lockout', async () => {
    const r = await runWith('cmdop-agent', ['pin', 'unlock', '--state-dir', stateDir], {});
    expect(r).toMatchObject({ code: 0, stdout: 'PIN unlocked\n' });
    expect((await runWith('cmdop-agent', ['pin', 'status', '--state-dir', stateDir], {})).stdout).toContain('failures 0');
  });
});
