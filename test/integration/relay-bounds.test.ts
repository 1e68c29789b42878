/**
 * Issue 12, defect 1: one client key must not be able to exhaust the relay's memory. The relay runs
 * as its own process (so its RSS is its own); the agent and the clients run here. The attacker is a
 * raw WebSocket client that opens streams with the largest window and stops reading its socket.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync, openSync, ftruncateSync, closeSync, writeFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { encodeFrame } from '../../src/protocol/codec.js';
import { MAX_WINDOW } from '../../src/protocol/limits.js';
import { Agent } from '../../src/agent/agent.js';
import { Client } from '../../src/client/client.js';
import { silentLogger } from '../../src/log.js';
import { agentConfig } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { relayProcess, run, rssNow, peakRss } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { rawClient, type RawPeer } from '../helpers/raw.js';
import type { Relay } from '../../src/relay/relay.js';

const MiB = 1024 * 1024;
/** What the relay may grow by while attacked (the named bound). */
const RSS_BOUND = 64 * MiB;

describe('a bounded relay (issue 12, defect 1)', () => {
  const { dir, cleanup } = tempDir();
  let relay: Awaited<ReturnType<typeof relayProcess>>;
  let agent: Agent;
  let apiKey: string;
  let bystander: Client;
  let bigFile: string;
  let smallFile: string;
  let smallSha: string;
  let n = 0;

  /** A fresh relay and agent per case: RSS does not shrink after an attack, so each needs its own baseline. */
  async function setUp(): Promise<void> {
    await tearDown();
    const relayDir = join(dir, `relay-${++n}`);
    relay = await relayProcess(relayDir, 0, ['--heartbeat', '2s']);
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--data-dir', relayDir])).stdout.trim();
    apiKey = (await run('cmdop-relay', ['keys', 'issue', '--name', 'attacker', '--data-dir', relayDir])).stdout.trim();
    const files = join(dir, 'files');
    mkdirSync(files, { recursive: true });
    // A sparse 4 GiB file: the agent can read it as fast as it likes without touching the disk.
    bigFile = join(files, 'big.bin');
    const fd = openSync(bigFile, 'w');
    ftruncateSync(fd, 4 * 1024 * MiB);
    closeSync(fd);
    smallFile = join(files, 'small.bin');
    const small = randomBytes(MiB);
    writeFileSync(smallFile, small);
    smallSha = createHash('sha256').update(small).digest('hex');
    const fakeRelay = { url: relay.url, fingerprint: relay.fingerprint } as Relay;
    agent = await Agent.start({ config: agentConfig(dir, `box-${n}`, fakeRelay, token, { hostname: 'box' }), log: silentLogger(), local: false });
    await agent.online(15_000);
    bystander = await Client.connect({ url: relay.url, token: apiKey, fingerprint: relay.fingerprint, timeoutMs: 30_000 });
    bystander.files.setMachine('box');
  }
  async function tearDown(): Promise<void> {
    await bystander?.close();
    await agent?.stop();
    await relay?.kill();
  }
  beforeEach(setUp);
  afterAll(async () => {
    await tearDown();
    cleanup();
  });

  async function attacker(): Promise<RawPeer> {
    return rawClient({ url: relay.url } as Relay, apiKey);
  }

  function openRead(p: RawPeer, id: number, path: string, window = MAX_WINDOW): void {
    const request = cmdop.v1.ReadFileRequest.encode({ path }).finish();
    p.send(encodeFrame(id, { open: { target: 'box', service: 'files', method: 'read', request, window, end: true } }));
  }

  /** What other clients do meanwhile: every call must work, with the right bytes. */
  async function bystanderWork(rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      const bytes = await bystander.files.read(smallFile);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(smallSha);
      expect((await bystander.machines.get('box')).presence).toBe('online');
    }
  }

  it('relay RSS stays bounded while a client holds 300 unread 16 MiB-window streams, and other calls keep working', async () => {
    const before = rssNow(relay.child.pid!);
    const p = await attacker();
    p.ws.pause(); // the attacker never reads what the relay sends it
    for (let i = 0; i < 300; i++) openRead(p, 1 + 2 * i, bigFile);
    const { peak } = await peakRss([relay.child.pid!], bystanderWork(30));
    const grew = peak.get(relay.child.pid!)! - before;
    console.log(`relay RSS under 300 unread streams: ${(before / MiB).toFixed(0)} MiB before, +${(grew / MiB).toFixed(1)} MiB at peak`);
    expect(grew).toBeLessThan(RSS_BOUND);
    p.ws.terminate();
    await bystanderWork(1); // the relay let go of the attacker's streams
  });

  it('relay RSS stays bounded while one stream keeps granting credit it never reads', async () => {
    const before = rssNow(relay.child.pid!);
    const p = await attacker();
    p.ws.pause();
    openRead(p, 1, bigFile, MiB);
    let closed = false;
    void p.closed.then(() => (closed = true));
    const grants = (async () => {
      // Grants far beyond what it has read: the relay may refuse them (a protocol error closes this
      // link) but must never queue what they would allow.
      for (let i = 0; i < 200 && !closed; i++) {
        p.send(encodeFrame(1, { window: { credit: MiB } }));
        await bystanderWork(1);
      }
    })();
    const { peak } = await peakRss([relay.child.pid!], grants);
    const grew = peak.get(relay.child.pid!)! - before;
    console.log(`relay RSS under a granting, unread stream: +${(grew / MiB).toFixed(1)} MiB at peak`);
    expect(grew).toBeLessThan(RSS_BOUND);
    p.ws.terminate();
    await bystanderWork(1);
  });

  it('relay RSS stays bounded while 300 paused observers watch a flooding terminal', async () => {
    bystander.terminal.setMachine('box');
    const session = await bystander.terminal.create({ shell: '/bin/sh', args: ['-c', 'stty -echo; read x; yes observer-flood-line-of-some-length; read y'] });
    const before = rssNow(relay.child.pid!);
    const p = await attacker();
    p.ws.pause(); // 300 observers on one link that never reads
    const req = cmdop.v1.AttachRequest.encode({ sessionId: session.id, mode: cmdop.v1.AttachMode.OBSERVER }).finish();
    for (let i = 0; i < 300; i++) p.send(encodeFrame(1 + 2 * i, { open: { target: 'box', service: 'terminal', method: 'attach', request: req, window: MAX_WINDOW } }));
    // An operator that reads everything starts the flood; the observers fall behind at once.
    const op = bystander.terminal.stream();
    let got = 0;
    op.onLiveOutput((b) => (got += b.length));
    await op.attach(session.id);
    op.sendInput('\n');
    const { peak } = await peakRss([relay.child.pid!], (async () => {
      await waitFor('24 MiB of flood through the operator', () => got > 24 * MiB, 120_000);
      await bystanderWork(10);
    })());
    const grew = peak.get(relay.child.pid!)! - before;
    console.log(`relay RSS under 300 paused observers of a flooding terminal: +${(grew / MiB).toFixed(1)} MiB at peak`);
    expect(grew).toBeLessThan(RSS_BOUND);
    op.close();
    p.ws.terminate();
    await bystander.terminal.close(session.id);
  });
});
