/**
 * The unmodified official @cmdop/node SDK (the published package, a devDependency) against our
 * agent's local gRPC endpoint: discovery beside our own SDK, sessions and execute, files under the
 * jail, the AI agent with its PIN, what is not served, and garbage on the socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { pidsOf } from '../helpers/procs.js';
import { Client } from '../../src/client/client.js';
import type { Agent } from '../../src/agent/agent.js';

// Its ESM entry fails on Node 20 (the issue says so); the CommonJS build is the same code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const sdk: Sdk = createRequire(import.meta.url)('@cmdop/node');
const sdkVersion: string = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@cmdop/node').replace(/dist\/[^/]*$/, 'package.json'), 'utf8')).version;
const PIN = '482913';

async function official(info: string): Promise<Sdk> {
  return sdk.CMDOPClient.fromTransport(await sdk.LocalTransport.discover({ discoveryPath: info }));
}

describe(`the official @cmdop/node SDK (${sdkVersion}) against our agent`, () => {
  let c: Cluster;
  let llm: FakeLlm;
  let agent: Agent;
  let info: string;
  let cli: Sdk;

  beforeAll(async () => {
    llm = await startFakeLlm();
    c = await startCluster();
    agent = await c.startAgent('sdk-host', { aiBaseUrl: llm.url, aiModel: 'fake' });
    await agent.online();
    await agent.ai.pin.set(PIN, 6);
    info = join(c.dir, 'sdk-host', 'run', 'agent.info');
    cli = await official(info);
  });
  afterAll(async () => {
    await cli?.close();
    await c.close();
    await llm.close();
  });

  it('one discovery file: the official discover() and our Client.local() work side by side, in either order and after a restart', async () => {
    const file = JSON.parse(readFileSync(info, 'utf8'));
    expect(file).toMatchObject({ version: expect.any(String), pid: process.pid, transport: 'unix', address: join(c.dir, 'sdk-host', 'run', 'grpc.sock'), startedAt: expect.any(String), socket: expect.any(String) });
    expect(statSync(file.address).mode & 0o777).toBe(0o600);
    for (let round = 0; round < 2; round++) {
      // official first, then ours; then ours first, then official
      const order = round === 0 ? ['official', 'ours'] : ['ours', 'official'];
      for (const who of order) {
        if (who === 'official') {
          const o = await official(info);
          expect((await o.healthCheck()).healthy).toBe(true);
          await o.close();
        } else {
          const ours = await Client.local({ infoPaths: [info] });
          expect((await ours.terminal.listSessions()).length).toBeGreaterThanOrEqual(0);
          await ours.close();
        }
        expect(existsSync(info)).toBe(true); // neither deleted it
      }
    }
    await c.stopAgent('sdk-host');
    expect(existsSync(info)).toBe(false);
    await expect(official(info)).rejects.toThrow(/Agent not running|No discovery file|Failed to read agent info/);
    agent = await c.startAgent('sdk-host', { aiBaseUrl: llm.url, aiModel: 'fake' });
    await agent.online();
    await agent.ai.pin.set(PIN, 6);
    const o = await official(info);
    expect((await o.healthCheck()).healthy).toBe(true);
    await o.close();
    const ours = await Client.local({ infoPaths: [info] });
    await ours.close();
    expect(existsSync(info)).toBe(true);
    await cli.close();
    cli = await official(info);
  });

  it("our Client.local() leaves a live official agent's discovery file alone, with a clear error", async () => {
    const foreign = join(c.dir, 'foreign.info');
    writeFileSync(foreign, JSON.stringify({ version: '2.0.0', pid: process.pid, transport: 'unix', address: '/nonexistent/agent.sock', startedAt: new Date().toISOString() }));
    await expect(Client.local({ infoPaths: [foreign] })).rejects.toMatchObject({ code: 'connection', detail: 'agent_not_running', message: expect.stringMatching(/not cmdop-agent/) });
    expect(existsSync(foreign)).toBe(true);
  });

  it('sessions: setMachine + execute (exit code, empty output, after 64 KiB of output), and they are our sessions', async () => {
    const m = await cli.terminal.setMachine('sdk-host');
    expect(m.hostname).toBe('sdk-host');
    expect(await cli.terminal.execute('echo hello; (exit 7)')).toEqual({ output: 'hello', exitCode: 7 });
    expect(await cli.terminal.execute('true')).toEqual({ output: '', exitCode: 0 });
    // The session prints more than 64 KiB (the SDK's execute reads the last 20 KiB of output).
    const ours0 = await Client.local({ infoPaths: [info] });
    const base = (await ours0.terminal.getSession(m.sessionId)).outputOffset;
    await cli.terminal.sendInput("head -c 70000 /dev/zero | tr '\\0' x; echo\n");
    await waitFor('70000 bytes of output', async () => (await ours0.terminal.getSession(m.sessionId)).outputOffset > base + 70000);
    await ours0.close();
    const after = await cli.terminal.execute('echo after-the-flood');
    expect(after).toEqual({ output: 'after-the-flood', exitCode: 0 });
    // The same session in our SDK: listed, with its output.
    const ours = await Client.local({ infoPaths: [info] });
    const listed = await ours.terminal.listSessions();
    expect(listed.map((s) => s.id)).toContain(m.sessionId);
    expect((await ours.terminal.getSession(m.sessionId)).outputOffset).toBeGreaterThan(70000);
    await ours.close();
    const { sessions } = await cli.terminal.list({ hostname: 'sdk' });
    expect(sessions.map((s: { sessionId: string }) => s.sessionId)).toContain(m.sessionId);
    await expect(cli.terminal.setMachine('some-other-box', false)).rejects.toThrow(/no machine named "some-other-box"/);
  });

  it('an execute that outlives its timeout comes back as the SDK timeout, its process group is stopped, and the shell is free again', async () => {
    await cli.terminal.setMachine('sdk-host');
    const sleeper = 'sleep 97.531';
    const r = await cli.terminal.execute(sleeper, { timeoutMs: 1500, pollIntervalMs: 100 });
    expect(r.exitCode).toBe(-1);
    expect(r.output).toMatch(/timed out after 1500ms/);
    expect(pidsOf(sleeper).length).toBe(1); // still running the moment the SDK gave up
    await waitFor('the abandoned command to be stopped', () => pidsOf(sleeper).length === 0, 30_000, 100);
    expect(await cli.terminal.execute('echo free')).toEqual({ output: 'free', exitCode: 0 });
  });

  it('terminal.create, input, output by offset, resize, signal, status, close', async () => {
    const s = await cli.terminal.create({ cols: 100, rows: 30 });
    await cli.terminal.sendInput(s.sessionId, 'echo marker-$((6*7))\n');
    let seen = '';
    let offset = 0;
    await waitFor('the echo', async () => {
      const out = await cli.terminal.getOutput(s.sessionId, { offset });
      offset += out.data.length;
      seen += out.data.toString();
      return seen.includes('marker-42');
    });
    const tail = await cli.terminal.getOutput(s.sessionId, { offset: 0, limit: 10 });
    expect(tail.data.length).toBe(10);
    expect(tail.totalBytes).toBeGreaterThanOrEqual(offset); // the prompt may follow meanwhile
    await cli.terminal.resize(s.sessionId, 120, 40);
    await cli.terminal.signal(s.sessionId, 'SIGINT');
    expect(await cli.terminal.getStatus(s.sessionId)).toMatchObject({ exists: true, status: 'CONNECTED', hostname: 'sdk-host' });
    await cli.terminal.close(s.sessionId);
    await waitFor('the session to end', async () => (await cli.terminal.getStatus(s.sessionId)).status !== 'CONNECTED');
  });

  it("the SDK's polling terminal.stream() sees output in order, and AgentStream.cancel() stops the model", async () => {
    const s = await cli.terminal.create({});
    const stream = cli.terminal.stream(s.sessionId, { pollIntervalMs: 50 });
    let seen = '';
    stream.on((e: { type: string; data?: Buffer }) => e.type === 'output' && (seen += e.data!.toString()));
    const ended = stream.connect(); // resolves when the stream closes
    await cli.terminal.sendInput(s.sessionId, 'for i in 1 2 3; do echo line-$i; done\n');
    await waitFor('three lines', () => /line-1\r?\nline-2\r?\nline-3/.test(seen));
    await stream.close();
    await ended;
    await cli.terminal.close(s.sessionId);

    llm.script({ kind: 'hang', text: 'Thinking' });
    const a = cli.agent.stream('think forever', { options: { pin: PIN } });
    a.on((e: { type: string }) => e.type === 'token' && a.cancel());
    await expect(a.start()).rejects.toThrow(/cancelled/);
    await llm.hungUp; // the model request was aborted on the agent
  });

  it('CancelAgent (which this SDK version never calls) stops a running request by its id', async () => {
    const { makeGenericClientConstructor, credentials } = await import('@grpc/grpc-js');
    const { serviceDefinition } = await import('../../src/agent/grpc/definition.js');
    const Ctor = makeGenericClientConstructor(serviceDefinition(), 'TerminalStreamingService');
    const raw = new Ctor(`unix:${JSON.parse(readFileSync(info, 'utf8')).address}`, credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => unknown>;
    const unary = (m: string, req: unknown) => new Promise<Record<string, unknown>>((res, rej) => raw[m]!.call(raw, req, (e: Error | null, v: Record<string, unknown>) => (e ? rej(e) : res(v))));
    expect(await unary('CancelAgent', { requestId: 'no-such-request' })).toMatchObject({ success: false, error: expect.stringMatching(/no running agent request/) });
    llm.script({ kind: 'hang', text: 'Thinking' });
    const stream = raw.RunAgentStream!.call(raw, { requestId: 'req-42', prompt: 'think forever', options: { pin: PIN } }) as import('node:stream').Readable;
    const ended = new Promise((r) => { stream.on('error', r); stream.on('end', r); });
    await new Promise((r) => stream.once('data', r));
    expect(await unary('CancelAgent', { requestId: 'req-42' })).toMatchObject({ success: true });
    await ended;
    await llm.hungUp;
    (raw as unknown as { close(): void }).close();
  });

  it('files: a 3 MiB round trip, the rest of the namespace, the message limit, and the jail', async () => {
    const work = join(c.dir, 'files');
    mkdirSync(work);
    const bytes = randomBytes(3 * 1024 * 1024);
    expect((await cli.files.write(join(work, 'big.bin'), bytes)).bytesWritten).toBe(bytes.length);
    const back = await cli.files.read(join(work, 'big.bin'));
    expect(Buffer.compare(back.content, bytes)).toBe(0);
    expect(back.totalSize).toBe(bytes.length);
    const part = await cli.files.read(join(work, 'big.bin'), { offset: 100, length: 50 });
    expect(Buffer.compare(part.content, bytes.subarray(100, 150))).toBe(0);
    expect(part.isTruncated).toBe(true);

    await expect(cli.files.write(join(work, 'big.bin'), 'again')).rejects.toThrow(/exists/); // overwrite defaults to false in the SDK
    await cli.files.mkdir(join(work, 'sub/deeper'), { recursive: true });
    await cli.files.copy(join(work, 'big.bin'), join(work, 'sub/copy.bin'));
    await cli.files.move(join(work, 'sub/copy.bin'), join(work, 'sub/moved.bin'));
    expect((await cli.files.stat(join(work, 'sub/moved.bin'))).size).toBe(bytes.length);
    const listed = await cli.files.list(join(work, 'sub'));
    expect(listed.entries.map((e: { name: string }) => e.name).sort()).toEqual(['deeper', 'moved.bin']);
    const found = await cli.files.search(work, { pattern: '*.bin' });
    expect(found.map((e: { name: string }) => e.name).sort()).toEqual(['big.bin', 'moved.bin']);
    const zip = await cli.files.archive([join(work, 'sub')], join(work, 'sub.zip'), { format: 'zip' });
    expect(zip.size).toBeGreaterThan(0);
    expect(await cli.files.delete(join(work, 'sub'), { recursive: true })).toMatchObject({ dirsDeleted: 1 });
    await expect(cli.files.stat(join(work, 'sub'))).rejects.toMatchObject({ name: 'NotFoundError' });

    writeFileSync(join(work, 'huge.bin'), randomBytes(5 * 1024 * 1024));
    await expect(cli.files.read(join(work, 'huge.bin'))).rejects.toThrow(/4 MiB message limit\): read it in parts with \{ offset, length \}/);

    const jail = join(c.dir, 'jail');
    mkdirSync(jail);
    const jailed = await c.startAgent('jailed', { filesRoots: [jail] });
    await jailed.online();
    const j = await official(join(c.dir, 'jailed', 'run', 'agent.info'));
    await j.files.write(join(jail, 'ok.txt'), 'inside');
    expect((await j.files.read(join(jail, 'ok.txt'))).content.toString()).toBe('inside');
    await expect(j.files.read('/etc/hostname')).rejects.toMatchObject({ name: 'PermissionError' });
    await expect(j.files.write(join(jail, '../escape.txt'), 'x')).rejects.toMatchObject({ name: 'PermissionError' });
    expect(existsSync(join(c.dir, 'escape.txt'))).toBe(false);
    await j.close();

    // Audited like any other call: the write reached the relay's log.
    const admin = await c.client();
    await waitFor('the write in the audit log', async () => (await admin.audit.list({ type: 'agent.files.write', limit: 1000 })).items.some((e) => JSON.stringify(e).includes('big.bin')));
  });

  it('agent.run with an output schema: a wrong PIN is refused and counted, the right one answers; stream and extract', async () => {
    const schema = JSON.stringify({ type: 'object', properties: { healthy: { type: 'boolean' } }, required: ['healthy'] });
    const before = agent.ai.pin.failures;
    await expect(cli.agent.run('check health', { outputSchema: schema, options: { pin: '000000' } })).rejects.toMatchObject({ name: 'PermissionError', message: expect.stringMatching(/PIN rejected/) });
    expect(agent.ai.pin.failures).toBe(before + 1);
    await expect(cli.agent.run('check health')).rejects.toThrow(/pass it as options.pin/);

    llm.script({ kind: 'text', text: '{"healthy": true}' });
    const r = await cli.agent.run('check health', { outputSchema: schema, options: { pin: PIN } });
    expect(r.success).toBe(true);
    expect(JSON.parse(r.outputJson)).toEqual({ healthy: true });
    expect(agent.ai.pin.failures).toBe(0); // a right PIN clears the count

    llm.script({ kind: 'text', text: 'streamed answer', chunkSize: 4 });
    const tokens: string[] = [];
    const stream = cli.agent.stream('say something', { options: { pin: PIN } });
    stream.on((e: { type: string; token?: string }) => e.type === 'token' && tokens.push(e.token!));
    expect((await stream.start()).text).toBe('streamed answer');
    expect(tokens.join('')).toBe('streamed answer');

    llm.script({ kind: 'text', text: '{"healthy": false}' });
    expect(await cli.agent.extract('is it healthy?', schema, { options: { pin: PIN } })).toEqual({ healthy: false });
    await expect(cli.extract.run('is it healthy?', schema)).rejects.toThrow(/Extract has no field for it: use agent.extract/);
  });

  it('a dangerous action is refused, not confirmed, and the answer says so', async () => {
    llm.script({ kind: 'tools', calls: [{ name: 'run_command', arguments: JSON.stringify({ command: 'rm -rf /tmp/not-there-at-all' }) }] }, { kind: 'text', text: 'I could not do it.' });
    const events: Array<{ type: string; message?: string }> = [];
    const stream = cli.agent.stream('clean up', { mode: 'terminal', options: { pin: PIN } });
    stream.on((e: { type: string; message?: string }) => events.push(e));
    const r = await stream.start();
    expect(r.text).toBe('I could not do it.');
    expect(r.toolResults[0]).toMatchObject({ toolName: 'run_command', success: false, error: 'refused' });
    expect(events.some((e) => e.type === 'error' && /cannot confirm an action/.test(e.message ?? ''))).toBe(true);
  });

  it('what is not served answers UNIMPLEMENTED with a reason at once, streams included', async () => {
    await expect(cli.skills.list()).rejects.toThrow(/does not serve SkillList: cmdop-agent has no skills/);
    await expect(cli.terminal.getHistory(undefined, {})).rejects.toThrow(/does not serve GetHistory/);
    const s = await cli.terminal.create({});
    const attach = cli.terminal.attach(s.sessionId);
    const errors: string[] = [];
    attach.on((e: { type: string; error?: Error }) => e.type === 'error' && errors.push(e.error!.message));
    await withTimeout(attach.connect().catch((e: Error) => errors.push(e.message)), 10_000, 'attach to end');
    expect(errors.join(' ')).toMatch(/does not serve ConnectTerminal/);
  });

  it('garbage and held connections on the gRPC socket do not disturb the agent', async () => {
    const address = JSON.parse(readFileSync(info, 'utf8')).address as string;
    const held = connect(address); // says nothing, ever
    const junk = connect(address);
    junk.on('error', () => {});
    await new Promise((r) => junk.once('connect', r));
    junk.write(randomBytes(4096));
    const preface = connect(address);
    preface.on('error', () => {});
    await new Promise((r) => preface.once('connect', r));
    preface.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 4, 0xff, 0, 0, 0, 0, 1]), randomBytes(2048)]));
    // Garbage is closed before grpc-js sees it. A valid preface followed by garbage goes to grpc-js,
    // which keeps it until the client closes it (only the socket's owner can make one: 0600).
    await withTimeout(new Promise((r) => (junk.destroyed ? r(null) : junk.once('close', r))), 10_000, 'the garbage connection to be closed');
    expect((await cli.healthCheck()).healthy).toBe(true);
    expect((await cli.terminal.execute('echo still-here')).output).toBe('still-here');
    for (const s of [held, junk, preface]) s.destroy();
    expect((await cli.files.stat(c.dir)).type).toBe('directory');
  });
});

describe('the gRPC endpoint, configured', () => {
  it('"grpc": "health" answers HealthCheck only (so discover() keeps the file) and refuses the rest with the reason', async () => {
    const c = await startCluster();
    const agent = await c.startAgent('healthy-only', { grpc: 'health' });
    await agent.online();
    const info = join(c.dir, 'healthy-only', 'run', 'agent.info');
    const o = await official(info);
    expect((await o.healthCheck()).healthy).toBe(true);
    await expect(o.files.list(c.dir)).rejects.toThrow(/set to health only/);
    expect(existsSync(info)).toBe(true);
    await o.close();
    await c.close();
  });

  it('grpcListen serves on a loopback port instead, named in the discovery file', async () => {
    const c = await startCluster();
    const agent = await c.startAgent('on-tcp', { grpcListen: '127.0.0.1:0' });
    await agent.online();
    const info = join(c.dir, 'on-tcp', 'run', 'agent.info');
    const file = JSON.parse(readFileSync(info, 'utf8'));
    expect(file.transport).toBe('tcp');
    expect(file.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(existsSync(join(c.dir, 'on-tcp', 'run', 'grpc.sock'))).toBe(false);
    const o = await official(info);
    await o.terminal.setMachine('on-tcp');
    expect(await o.terminal.execute('echo over-tcp')).toEqual({ output: 'over-tcp', exitCode: 0 });
    await o.close();
    await expect(c.startAgent('on-net', { grpcListen: '0.0.0.0:0' })).rejects.toThrow(/must be a loopback host:port/);
    await c.close();
  });
});
