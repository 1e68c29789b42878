import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { relayProcess, ROOT, run, start, type Proc } from '../helpers/procs.js';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.js';
import { waitFor } from '../helpers/wait.js';
import { ensureBinaries } from '../helpers/package.js';
import { Client } from '../../src/client/client.js';

const BIN = join(ROOT, 'dist/bin/cmdop-agent-linux-x64');
/** What the shell work in these tests needs; node is deliberately not among them. */
const TOOLS = ['sh', 'bash', 'stty', 'seq', 'cat', 'echo', 'ls', 'sleep', 'env', 'printf', 'true', 'id', 'uname', 'head', 'tail', 'wc', 'mkdir', 'rm', 'tput'];

describe('the linux-x64 single executable, with no Node on its PATH', () => {
  const { dir, cleanup } = tempDir('cmdop-bin-');
  let relay: Proc & { url: string; fingerprint: string };
  let agent: Proc;
  let client: Client;
  let llm: FakeLlm;

  beforeAll(async () => {
    // Build it if this checkout has not yet (downloads only from the npm registry, once).
    ensureBinaries('agent', ['linux-x64']);
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const t of TOOLS) {
      const path = execFileSync('sh', ['-c', `command -v ${t}`]).toString().trim();
      if (path.startsWith('/')) symlinkSync(path, join(bin, t));
    }
    llm = await startFakeLlm();
    const relayDir = join(dir, 'relay');
    relay = await relayProcess(relayDir);
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--data-dir', relayDir])).stdout.trim();
    const key = (await run('cmdop-relay', ['keys', 'issue', '--data-dir', relayDir])).stdout.trim();
    agent = start(BIN, ['run', '--relay', relay.url, '--fingerprint', relay.fingerprint, '--token', token, '--state-dir', join(dir, 'state'), '--socket', join(dir, 'agent.sock'), '--hostname', 'bin-host', '--log-level', 'info', '--ai-base-url', llm.url, '--pin-mode', 'off'], {
      PATH: bin,
      HOME: dir,
      CMDOP_RUNTIME_DIR: join(dir, 'runtime'),
      NODE_OPTIONS: '',
    });
    await agent.waitFor(/"msg":"online"/, 20_000);
    client = await Client.connect({ url: relay.url, token: key, fingerprint: relay.fingerprint });
    client.terminal.setMachine('bin-host');
  }, 180_000);
  afterAll(async () => {
    await client?.close();
    await agent?.kill();
    await relay?.kill();
    await llm?.close();
    cleanup();
  });

  it('is an ELF x86-64 executable that reports its version quickly', () => {
    expect(execFileSync('file', ['-b', BIN]).toString()).toMatch(/^ELF 64-bit LSB (pie )?executable, x86-64/);
    expect(execFileSync(BIN, ['--version'], { env: { PATH: '/nonexistent' } }).toString()).toMatch(/^cmdop-agent \d+\.\d+\.\d+\n$/);
  });

  it('execute runs with no node on PATH', async () => {
    const r = await client.terminal.execute('command -v node || echo no-node-here; uname -s');
    expect(r).toMatchObject({ exitCode: 0, output: 'no-node-here\nLinux\n' });
  });

  it('terminal attach: a real pty from the extracted node-pty addon', async () => {
    const s = await client.terminal.create({ shell: '/bin/bash', args: ['--norc', '--noprofile'], cols: 100, rows: 30 });
    const t = client.terminal.stream();
    let out = '';
    t.onLiveOutput((b) => (out += Buffer.from(b).toString()));
    await t.attach(s.id);
    t.sendInput('stty size; echo bin-""works\r');
    await waitFor('output from the pty', () => out.includes('30 100') && out.includes('bin-works'));
    await client.terminal.close(s.id);
    expect(readFileSync(join(dir, 'runtime', readdirOne(join(dir, 'runtime')), '.complete'), 'utf8')).toMatch(/^\d+\.\d+\.\d+$/);
    // Recorded by the worker thread from the extracted file (the executable cannot run the one in dist/).
    await waitFor('the recording to complete', async () => (await client.terminal.recordings.get(s.id)).status === 'complete');
    const { events } = await client.terminal.recordings.cast(s.id);
    let recorded = '';
    for await (const e of events) if (e.code === 'o') recorded += e.data;
    expect(recorded).toContain('bin-works');
  });

  it('files: write, read, list and hash through the binary', async () => {
    const p = join(dir, 'via-binary.txt');
    await client.files.write(p, 'written by the single executable');
    expect(readFileSync(p, 'utf8')).toBe('written by the single executable');
    expect((await client.files.read(p)).toString()).toBe('written by the single executable');
    expect((await client.files.list(dir)).entries.map((e) => e.name)).toContain('via-binary.txt');
    expect((await client.files.info(p, { hash: 'sha256' })).sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the AI classifier loads its grammar from the extracted wasm (a safe command runs without a confirm)', async () => {
    writeFileSync(join(dir, 'marker'), 'x');
    llm.script({ kind: 'tools', calls: [{ name: 'run_command', arguments: JSON.stringify({ command: `ls ${dir}` }) }] }, { kind: 'text', text: 'listed' });
    const frames = [];
    const s = client.machines.ask('bin-host', 'list', { agentType: 'terminal' });
    for await (const f of s) {
      frames.push(f);
      if (f.type === 'confirm_required') await s.confirm(f.token, false);
    }
    expect(frames.some((f) => f.type === 'confirm_required')).toBe(false);
    expect(frames.at(-1)).toMatchObject({ type: 'done', text: 'listed' });
  });
});

describe('cmdop-agent install from the single executable', () => {
  const { dir, cleanup } = tempDir('cmdop-bin-install-');
  afterAll(() => cleanup());

  it('copies itself to /usr/local/bin (byte for byte) and writes a unit that verifies against the fake root', () => {
    const root = join(dir, 'root');
    const out = execFileSync(BIN, ['install', '--platform', 'linux', '--root', root], { env: { PATH: '/usr/bin:/bin', CMDOP_RUNTIME_DIR: join(dir, 'rt') } }).toString();
    expect(out).toContain('binary /usr/local/bin/cmdop-agent');
    const copied = join(root, 'usr/local/bin/cmdop-agent');
    expect(statSync(copied).mode & 0o777).toBe(0o755);
    expect(sha(readFileSync(copied))).toBe(sha(readFileSync(BIN)));
    expect(readFileSync(join(root, 'etc/systemd/system/cmdop-agent.service'), 'utf8')).toMatch(/^ExecStart=\/usr\/local\/bin\/cmdop-agent run --config \/etc\/cmdop\/agent\.json$/m);
    // systemd-analyze needs the system's own units inside the root to resolve the dependencies.
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    execFileSync('cp', ['-a', '/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system')]);
    const v = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/cmdop-agent.service'], { encoding: 'utf8' });
    expect({ code: v.status, stderr: v.stderr }).toEqual({ code: 0, stderr: '' });
  });
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function readdirOne(d: string): string {
  return readdirSync(d)[0]!;
}
