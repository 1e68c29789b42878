import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pty from '@lydell/node-pty';
import { Client } from '../../src/client/client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { CLI, run } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

describe('cmdop exec and cmdop shell', () => {
  let c: Cluster;
  let env: Record<string, string>;
  let agent: Awaited<ReturnType<Cluster['startAgent']>>;
  beforeAll(async () => {
    c = await startCluster();
    agent = await c.startAgent('clibox');
    await agent.online();
    env = { CMDOP_BASE_URL: c.relay.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.relay.fingerprint, CMDOP_PROFILE: '/nonexistent/profile.json' };
  });
  afterAll(async () => {
    await c.close();
  });

  it('exec streams output and passes on the exit code', async () => {
    const r = await run('cmdop', ['exec', 'clibox', '--', 'sh', '-c', 'echo out; echo err >&2; exit 5'], env);
    expect(r.stdout).toBe('out\nerr\n');
    expect(r.code).toBe(5);
    const ok = await run('cmdop', ['exec', 'clibox', '--', 'echo $((6*7))'], env);
    expect(ok.stdout).toBe('42\n');
    expect(ok.code).toBe(0);
    const missing = await run('cmdop', ['exec', 'nowhere', '--', 'true'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^cmdop: not_found: no machine nowhere\n$/);
  });

  it('shell honours stdout backpressure: a terminal that stops reading pauses the remote program (issue 12, defect 5)', async () => {
    const term = pty.spawn(process.execPath, [CLI('cmdop'), 'shell', 'clibox'], { cols: 90, rows: 30, env: { ...process.env, ...env, SHELL: '/bin/bash' } });
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
    await waitFor('shell banner', () => out.includes('Ctrl-] detaches'), 10_000);
    const id = /session ([0-9a-f-]{36})/.exec(out)![1]!;
    term.write('yes cmdop-backpressure\r');
    await waitFor('the flood to start', () => out.split('cmdop-backpressure').length > 20, 10_000);
    term.pause(); // the local terminal stops reading: cmdop's stdout fills, its writes stop completing
    await waitFor('the agent to pause the remote pty', () => agent.sessions.get(id).paused, 30_000);
    term.resume();
    await waitFor('the flood to flow again', () => !agent.sessions.get(id).paused, 30_000);
    term.write('\x03');
    term.write('\x1d');
    expect(await exited).toBe(0);
    await c.client().then(async (cl) => {
      cl.terminal.setMachine('clibox');
      await cl.terminal.close(id);
    });
  });

  it('shell runs in a real terminal, forwards resizes, and detaches with Ctrl-] leaving the session alive', async () => {
    const term = pty.spawn(process.execPath, [CLI('cmdop'), 'shell', 'clibox'], { cols: 90, rows: 30, env: { ...process.env, ...env, SHELL: '/bin/bash' } });
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
    await waitFor('shell banner', () => out.includes('Ctrl-] detaches'), 10_000);
    term.write('stty size\r');
    await waitFor('initial size', () => out.includes('30 90'), 10_000);
    term.resize(120, 40);
    // The resize travels as SIGWINCH -> cmdop -> relay -> agent; ask again every 20 polls until it lands.
    let polls = 0;
    await waitFor('resize to reach the remote pty', () => {
      if (polls++ % 20 === 0) term.write('stty size\r');
      return out.includes('40 120');
    }, 10_000);
    term.write('\x1d');
    expect(await exited).toBe(0);
    expect(out).toMatch(/detached from session ([0-9a-f-]{36})/);
    const id = /detached from session ([0-9a-f-]{36})/.exec(out)![1]!;
    // The session lives on after the detach.
    const client = await Client.connect({ url: c.relay.url, token: c.apiKey, fingerprint: c.relay.fingerprint });
    client.terminal.setMachine('clibox');
    const info = await client.terminal.getSession(id);
    expect(info.exited).toBe(false);
    await client.terminal.close(id);
    await client.close();
  });
});
