import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { tempDir } from '../helpers/tmp.js';
import { CLI, peakRss, rssNow, start } from '../helpers/procs.js';
import { filesEnv, type FilesEnv } from '../helpers/files-env.js';

const MiB = 1024 * 1024;
const SIZE_MIB = 2048;
/** The bound: each process within +64 MiB of where it started. */
const RSS_BOUND = 64 * MiB;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 4 * MiB }), h);
  return h.digest('hex');
}

/** Writes `mib` MiB of random bytes, 16 MiB at a time; returns the sha256. */
async function writeRandom(path: string, mib: number): Promise<string> {
  const h = createHash('sha256');
  const out = createWriteStream(path);
  const block = Buffer.alloc(16 * MiB);
  for (let i = 0; i < mib / 16; i++) {
    randomFillSync(block);
    h.update(block);
    if (!out.write(Buffer.from(block))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
  return h.digest('hex');
}

/** Runs `cmdop cp`, sampling the RSS of the client, the relay and the agent while it runs. */
async function cpWithRss(e: FilesEnv, args: string[]) {
  const cp = start(process.execPath, [CLI('cmdop'), 'cp', '--quiet', ...args], e.env());
  const t0 = performance.now();
  const { result: code, peak } = await peakRss([cp.child.pid!, e.relay.child.pid!, e.agent.child.pid!], cp.exited, 10);
  const secs = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`cmdop cp failed: ${cp.stderr()}`);
  return { secs, client: peak.get(cp.child.pid!)!, relay: peak.get(e.relay.child.pid!)!, agent: peak.get(e.agent.child.pid!)! };
}

describe(`files: ${SIZE_MIB / 1024} GiB each way with bounded memory`, () => {
  const { dir, cleanup } = tempDir('cmdop-fbig-');
  const remote = join(dir, 'remote');
  let e: FilesEnv;
  let want = '';
  const src = join(dir, 'src.bin');

  beforeAll(async () => {
    mkdirSync(remote);
    e = await filesEnv(dir, 'bighost');
    want = await writeRandom(src, SIZE_MIB);
  }, 120_000);
  afterAll(async () => {
    await e.close();
    cleanup();
  });

  it('upload then download: sha256 matches, and agent, relay and client RSS stay within +64 MiB', async () => {
    // A small transfer first: its peaks are each process's "start" (connected, code loaded, buffers warm).
    const small = join(dir, 'small.bin');
    await writeRandom(small, 16);
    const base = await cpWithRss(e, [small, `bighost:${remote}/small.bin`]);
    const relayStart = rssNow(e.relay.child.pid!);
    const agentStart = rssNow(e.agent.child.pid!);

    const up = await cpWithRss(e, [src, `bighost:${remote}/big.bin`]);
    expect(statSync(join(remote, 'big.bin')).size).toBe(SIZE_MIB * MiB);
    expect(await sha256File(join(remote, 'big.bin'))).toBe(want);
    const down = await cpWithRss(e, [`bighost:${remote}/big.bin`, join(dir, 'back.bin')]);
    expect(await sha256File(join(dir, 'back.bin'))).toBe(want);

    const report = {
      uploadMBs: (SIZE_MIB * MiB) / 1e6 / up.secs,
      downloadMBs: (SIZE_MIB * MiB) / 1e6 / down.secs,
      clientStartMiB: base.client / MiB,
      clientPeakMiB: Math.max(up.client, down.client) / MiB,
      relayStartMiB: relayStart / MiB,
      relayPeakMiB: Math.max(up.relay, down.relay) / MiB,
      agentStartMiB: agentStart / MiB,
      agentPeakMiB: Math.max(up.agent, down.agent) / MiB,
    };
    console.log(JSON.stringify(report));
    expect(Math.max(up.client, down.client) - base.client).toBeLessThan(RSS_BOUND);
    expect(Math.max(up.relay, down.relay) - relayStart).toBeLessThan(RSS_BOUND);
    expect(Math.max(up.agent, down.agent) - agentStart).toBeLessThan(RSS_BOUND);
  }, 300_000);
});
