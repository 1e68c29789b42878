import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Client } from '../../src/client/client.js';
import { agentProcess, relayProcess, run } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import type { Agent } from '../../src/agent/agent.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

/** A source that sends `n` bytes of `data` and then fails, like a client that dies mid-upload. */
function failingAfter(data: Buffer, n: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= n) return this.destroy(new Error('client died'));
      const c = data.subarray(sent, Math.min(n, sent + MiB));
      sent += c.length;
      this.push(c);
    },
  });
}

describe('files: interrupted uploads resume, and are never half-visible', () => {
  let cluster: Cluster;
  let client: Client;
  let agent: Agent;
  const { dir, cleanup } = tempDir('cmdop-resume-');
  const data = randomBytes(24 * MiB);
  const local = join(dir, 'local.bin');

  beforeAll(async () => {
    writeFileSync(local, data);
    cluster = await startCluster();
    agent = await cluster.startAgent('resume-host');
    await agent.online();
    client = await cluster.client();
    client.files.setMachine('resume-host');
  });
  afterAll(async () => {
    await cluster.close();
    cleanup();
  });

  it('a cut resumable upload keeps the old file, then resumes from the agreed offset', async () => {
    const dest = join(dir, 'dest.bin');
    writeFileSync(dest, 'old contents');
    await expect(client.files.write(dest, failingAfter(data, 10 * MiB), { resumable: true })).rejects.toThrow();
    expect(readFileSync(dest, 'utf8')).toBe('old contents');
    const held = await client.files.uploadStatus(dest);
    expect(held.offset).toBeGreaterThan(0);
    expect(held.offset).toBeLessThanOrEqual(10 * MiB);
    expect(held.sha256).toBe(sha(data.subarray(0, held.offset)));
    const progress: number[] = [];
    const r = await client.files.upload(local, dest, { resume: true, hash: true, onProgress: (done) => progress.push(done) });
    expect(progress[0]).toBe(held.offset); // it started where the agent was, not at 0
    expect(r).toMatchObject({ size: data.length, sha256: sha(data) });
    expect(sha(readFileSync(dest))).toBe(sha(data));
    expect(readdirSync(dir).filter((n) => n.includes('cmdop'))).toEqual([]);
    expect((await client.files.uploadStatus(dest)).offset).toBe(0);
  });

  it('a prefix that does not match is refused, and resume then starts over', async () => {
    const dest = join(dir, 'dest2.bin');
    await expect(client.files.write(dest, failingAfter(data, 6 * MiB), { resumable: true })).rejects.toThrow();
    const held = await client.files.uploadStatus(dest);
    expect(held.offset).toBeGreaterThan(0);
    await expect(client.files.write(dest, Readable.from([data.subarray(held.offset)]), { offset: held.offset, prefixSha256: sha(Buffer.from('something else')) })).rejects.toMatchObject({
      code: 'conflict',
      detail: 'resume_mismatch',
    });
    const other = join(dir, 'other.bin');
    const changed = Buffer.from(data);
    changed[0] = changed[0]! ^ 0xff; // the local file changed since: its prefix no longer matches
    writeFileSync(other, changed);
    const progress: number[] = [];
    await client.files.upload(other, dest, { resume: true, onProgress: (d) => progress.push(d) });
    expect(progress[0]).toBe(0);
    expect(sha(readFileSync(dest))).toBe(sha(changed));
  });

  it('a cut non-resumable upload leaves no temp file at all', async () => {
    const dest = join(dir, 'dest3.bin');
    await expect(client.files.write(dest, failingAfter(data, 4 * MiB))).rejects.toThrow();
    await expect.poll(() => readdirSync(dir).filter((n) => n.includes('dest3'))).toEqual([]);
    expect((await client.files.uploadStatus(dest)).offset).toBe(0);
  });

  it('partials nobody resumes are removed when the agent next starts past the TTL', async () => {
    const dest = join(dir, 'dest4.bin');
    await expect(client.files.write(dest, failingAfter(data, 3 * MiB), { resumable: true })).rejects.toThrow();
    const partial = join(dir, '.dest4.bin.cmdop-part');
    expect((await client.files.uploadStatus(dest)).offset).toBeGreaterThan(0);
    expect(existsSync(partial)).toBe(true);
    await agent.stop();
    // Same state dir, TTL 0: everything kept is past it.
    agent = await cluster.startAgent('resume-host', { filesResumeTtlSec: 0, stateDir: join(cluster.dir, 'resume-host', 'state') });
    expect(existsSync(partial)).toBe(false);
  });
});

describe('files: upload litter after an agent crash (issue 12, defect 7)', () => {
  it('a SIGKILLed agent leaves a temp and a partial; the next start removes the temp at once, and the partial once past its TTL', async () => {
    const { dir, cleanup } = tempDir('cmdop-crash-');
    const relayDir = join(dir, 'relay');
    const relay = await relayProcess(relayDir);
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--unlimited', '--data-dir', relayDir])).stdout.trim();
    const key = (await run('cmdop-relay', ['keys', 'issue', '--data-dir', relayDir])).stdout.trim();
    const agentDir = join(dir, 'agent');
    let agent = await agentProcess(agentDir, relay, token, 'crashy');
    const client = await Client.connect({ url: relay.url, token: key, fingerprint: relay.fingerprint, timeoutMs: 10_000 });
    try {
      client.files.setMachine('crashy');
      const files = join(dir, 'files');
      mkdirSync(files);
      writeFileSync(join(files, 'a.bin'), 'old a');
      // Two uploads that stall mid-way (the sources stop sending): one plain, one resumable.
      const stall = (n: number) => new Readable({ read() { if ((this as unknown as { sent?: number }).sent) return; (this as unknown as { sent?: number }).sent = 1; this.push(randomBytes(n)); } });
      const plain = client.files.write(join(files, 'a.bin'), stall(3 * MiB)).catch((e: unknown) => e);
      const resumable = client.files.write(join(files, 'b.bin'), stall(3 * MiB), { resumable: true }).catch((e: unknown) => e);
      const litter = () => readdirSync(files).filter((n) => n.includes('cmdop')).sort();
      await waitFor('both uploads to have bytes on disk', () => litter().length === 2 && litter().every((n) => statSync(join(files, n)).size > 0), 20_000);
      expect(litter()).toEqual([expect.stringMatching(/^\.a\.bin\.cmdop-tmp-/), '.b.bin.cmdop-part']);
      await agent.kill('SIGKILL');
      await Promise.all([plain, resumable]);
      expect(readFileSync(join(files, 'a.bin'), 'utf8')).toBe('old a'); // the old file is intact
      // Within its TTL: the temp went at start, the partial stays for a resume.
      agent = await agentProcess(agentDir, relay, token, 'crashy', ['--files-resume-ttl', '3600']);
      expect(litter()).toEqual(['.b.bin.cmdop-part']);
      await agent.kill();
      // Past its TTL (counted from its last write, though no cut was ever recorded): swept at start.
      agent = await agentProcess(agentDir, relay, token, 'crashy', ['--files-resume-ttl', '0']);
      expect(litter()).toEqual([]);
    } finally {
      await client.close();
      await agent.kill();
      await relay.kill();
      cleanup();
    }
  });
});
