/**
 * OpenSSH with a big file (runs in the heavy group, after the latency-bound tests): rsync of
 * 1 GiB through the relay, cut off midway with --partial, then resumed to identical bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { runTool, sshEnv, type SshEnv } from '../helpers/openssh.js';
import { waitFor } from '../helpers/wait.js';

const require = createRequire(import.meta.url);

describe('OpenSSH through the relay, a big file', () => {
  let c: Cluster;
  let s: SshEnv;
  beforeAll(async () => {
    c = await startCluster();
    await (await c.startAgent('ssh-box')).online();
    s = sshEnv(await (await c.client()).machines.get('ssh-box'), c.dir, c.relay, c.apiKey);
  });
  afterAll(async () => c.close());

  it('rsync of a 1 GiB file, cut off midway with --partial, then resumed to identical bytes', async () => {
    const from = join(c.dir, 'gig');
    mkdirSync(from);
    const src = join(from, 'one-gig.bin');
    expect((await runTool('sh', ['-c', `head -c 1073741824 /dev/urandom > ${src}`], process.env, { timeoutMs: 120_000 })).code).toBe(0);
    const to = join(c.dir, 'gig-to');
    mkdirSync(to);
    const { spawn } = await import('node:child_process');
    const first = spawn('rsync', ['--partial', '-e', s.sshCommand, src, `ssh-box:${to}/`], { env: s.env, stdio: 'ignore' });
    const firstDone = new Promise((r) => first.on('close', r));
    const fs = require('node:fs') as typeof import('node:fs');
    const sizeNow = () => fs.readdirSync(to).reduce((n, f) => n + fs.statSync(join(to, f)).size, 0);
    await waitFor('a good part of it to arrive', () => sizeNow() > 128 * 1024 * 1024, 120_000, 50);
    first.kill('SIGINT'); // rsync's receiver keeps what it has (--partial)
    await firstDone;
    await waitFor('the partial file in place', () => fs.existsSync(join(to, 'one-gig.bin')), 30_000);
    const partial = fs.statSync(join(to, 'one-gig.bin')).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(1073741824);
    const second = await runTool('rsync', ['--partial', '-e', s.sshCommand, src, `ssh-box:${to}/`], s.env, { timeoutMs: 240_000 });
    expect(second.code).toBe(0);
    const sum = async (f: string) => (await runTool('sha256sum', [f], process.env, { timeoutMs: 120_000 })).stdout.split(' ')[0];
    expect(await sum(join(to, 'one-gig.bin'))).toBe(await sum(src));
    fs.rmSync(from, { recursive: true });
    fs.rmSync(to, { recursive: true });
  }, 400_000);

});
