/**
 * OpenSSH's own tools through the relay, against the agent's SSH server (no sshd, no port on the
 * host): Debian's openssh-client, rsync and git, real files, real ptys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { runTool, sshEnv, type SshEnv } from '../helpers/openssh.js';
import type { Agent } from '../../src/agent/agent.js';

describe('OpenSSH through the relay', () => {
  let c: Cluster;
  let agent: Agent;
  let s: SshEnv;
  beforeAll(async () => {
    c = await startCluster();
    agent = await c.startAgent('ssh-box');
    await agent.online();
    const m = await (await c.client()).machines.get('ssh-box');
    s = sshEnv(m, c.dir, c.relay, c.apiKey);
  });
  afterAll(async () => c.close());

  it('exec: the exit code, and stdout and stderr apart', async () => {
    const r = await runTool('ssh', [...s.opts, 'ssh-box', 'echo out; echo err >&2; exit 7'], s.env);
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
  });
});
