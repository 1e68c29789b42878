import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import xterm from '@xterm/headless';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { frameMessage, MSG_INPUT } from '../../src/protocol/messages.js';
import { PermissionError, SessionNotFoundError, TimeoutError, ValidationError } from '../../src/errors.js';
import type { Client } from '../../src/client/client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { render } from '../helpers/term.js';
import { waitFor } from '../helpers/wait.js';

const BASH = { shell: '/bin/bash', args: ['--norc', '--noprofile'], env: { PS1: '$ ' } };

describe('terminal sessions through the relay', () => {
  let c: Cluster;
  let client: Client;
  let agent: Agent;
  beforeAll(async () => {
    c = await startCluster();
    agent = await c.startAgent('tty');
    await agent.online();
    client = await c.client({ timeoutMs: 15_000 });
    client.terminal.setMachine('tty');
  });
  afterAll(async () => {
    await c.close();
  });

  it('bash round trip, resize seen by stty, and session listing', async () => {
    const s = await client.terminal.create({ ...BASH, cols: 80, rows: 24 });
    expect(s.status).toBe('pending');
    const t = client.terminal.stream();
    const r = render(t);
    await t.attach(s.id);
    t.sendInput('echo hello-$((40+2))\r');
    await waitFor('echo output', () => r.text().includes('hello-42'));
    await client.terminal.resize(s.id, 101, 37);
    t.sendInput('stty size\r');
    await waitFor('stty size', () => r.text().includes('37 101'));
    const info = await client.terminal.getSession(s.id);
    expect(info).toMatchObject({ status: 'connected', cols: 101, rows: 37 });
    expect(info.attachedClients).toHaveLength(1);
    expect(info.attachedClients[0]!.role).toBe('operator');
    expect((await client.terminal.listSessions()).map((x) => x.id)).toContain(s.id);
    expect((await client.terminal.getActiveSession()).id).toBeDefined();
    const hist = await client.terminal.getHistory(s.id);
    expect(hist.text).toContain('hello-42');
    t.close();
    await client.terminal.close(s.id);
    await waitFor('session to exit', async () => (await client.terminal.getSession(s.id)).exited);
  });

  it('SIGINT reaches the foreground process group and ends sleep 100', async () => {
    const s = await client.terminal.create(BASH);
    const t = client.terminal.stream();
    const r = render(t);
    await t.attach(s.id);
    t.sendInput('echo st""arted; sleep 100\r');
    await waitFor('sleep to start', () => r.text().includes('started\r\n'));
    t.sendSignal('SIGINT');
    // bash abandons the rest of a list on SIGINT, so ask for the status separately.
    t.sendInput('echo rc=$?\r');
    await waitFor('sleep to end with 130', () => r.text().includes('rc=130'), 15_000);
    await expect(client.terminal.sendSignal(s.id, 'SIGBOGUS')).rejects.toThrow(/unknown signal/);
    await client.terminal.close(s.id);
  });

  it('two operators and an observer see identical bytes; the observer cannot write or resize', async () => {
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', 'stty -echo; read x; seq 1 30000; read y'] });
    const views = [client.terminal.stream(), client.terminal.stream(), client.terminal.stream({ mode: 'observer' })].map((t) => ({ t, r: render(t) }));
    for (const v of views) await v.t.attach(s.id);
    expect((await client.terminal.getSession(s.id)).attachedClients.map((a) => a.role).sort()).toEqual(['observer', 'operator', 'operator']);
    expect(() => views[2]!.t.sendInput('x')).toThrow(PermissionError);
    expect(() => views[2]!.t.resize(10, 10)).toThrow(PermissionError);
    views[0]!.t.sendInput('\n');
    await Promise.all(views.map((v) => waitFor('all output', () => v.r.text().includes('30000\r\n'), 15_000)));
    const tail = (b: Buffer) => createHash('sha256').update(b.subarray(b.indexOf('1\r\n2\r\n'))).digest('hex');
    const [a, b, o] = views.map((v) => tail(v.r.bytes()));
    expect(a).toBe(b);
    expect(o).toBe(a);
    await client.terminal.close(s.id);
  });

  it('the agent itself refuses an observer that sends input over the wire', async () => {
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', 'stty -echo; read x; echo got:$x; sleep 30'] });
    const req = cmdop.v1.AttachRequest.encode({ sessionId: s.id, mode: cmdop.v1.AttachMode.OBSERVER }).finish();
    const raw = await client.stream('tty', { service: 'terminal', method: 'attach', request: req });
    const seen: cmdop.v1.TerminalEvent[] = [];
    const { MessageReader, MSG_EVENT } = await import('../../src/protocol/messages.js');
    const reader = new MessageReader((type, body) => type === MSG_EVENT && seen.push(cmdop.v1.TerminalEvent.decode(body)));
    raw.handle({ onData: (d) => reader.push(d) });
    raw.write(frameMessage(MSG_INPUT, new TextEncoder().encode('sneaky\n')));
    await waitFor('refusal', () => seen.find((e) => e.kind === 'error'));
    expect(seen.find((e) => e.kind === 'error')!.error!.code).toBe(cmdop.v1.ErrorCode.PERMISSION);
    await client.terminal.sendInput(s.id, 'legit\n');
    await waitFor('legit input', async () => (await client.terminal.getHistory(s.id)).text.includes('got:legit'));
    expect((await client.terminal.getHistory(s.id)).text).not.toContain('sneaky');
    raw.end();
    await client.terminal.close(s.id);
  });

  it('attaching to a running vim, less and top shows the same screen the operator has', async () => {
    const file = join(c.dir, 'poem.txt');
    writeFileSync(file, Array.from({ length: 200 }, (_, i) => `line ${i} ${'·'.repeat(i % 40)} 日本 ✓`).join('\n'));
    for (const [cmd, ready] of [
      [`vim -u NONE -N -n ${file}`, 'line 0'],
      [`less ${file}`, 'line 0'],
      ['top -d 1000', 'load average'],
    ] as const) {
      const s = await client.terminal.create({ ...BASH, cols: 100, rows: 30 });
      const op = client.terminal.stream({ cols: 100, rows: 30 });
      const opView = render(op, 100, 30);
      await op.attach(s.id);
      op.sendInput(`${cmd}\r`);
      await waitFor(`${cmd} to draw`, async () => (await opView.screen()).join('\n').includes(ready), 10_000);
      if (cmd.startsWith('vim') || cmd.startsWith('less')) op.sendInput(cmd.startsWith('vim') ? '50Gzz' : '40g');
      // Settled: the jump has drawn (line 5 is on the first screen already, so wait for the target line).
      await waitFor(`${cmd} to settle`, async () => (await opView.screen()).join('\n').includes(cmd.startsWith('top') ? 'load average' : cmd.startsWith('vim') ? 'line 50 ' : 'line 40 '), 10_000);
      const late = client.terminal.stream({ mode: 'observer' });
      const lateView = render(late, 100, 30);
      await late.attach(s.id);
      // Both views converge on one screen and one cursor (the operator's own view may still be
      // taking the program's last bytes when the observer's snapshot lands).
      const cursor = (v: typeof opView) => `${v.term.buffer.active.cursorX},${v.term.buffer.active.cursorY}`;
      await waitFor(`${cmd}: late screen matches`, async () => {
        const [a, b] = [await opView.screen(), await lateView.screen()];
        return a.join('\n') === b.join('\n') && a.join('').trim().length > 0 && cursor(opView) === cursor(lateView);
      }, 10_000);
      expect(opView.term.buffer.active.cursorX).toBe(lateView.term.buffer.active.cursorX);
      expect(opView.term.buffer.active.cursorY).toBe(lateView.term.buffer.active.cursorY);
      expect(lateView.term.buffer.active.type).toBe(opView.term.buffer.active.type); // alternate screen too
      op.close();
      late.close();
      await client.terminal.close(s.id);
    }
  });

  it('attaching while a program sends terminal queries (DA, DSR) puts nothing extra into its input', async () => {
    const log = join(c.dir, 'stdin.log');
    // The program asks its terminal who it is and where the cursor is, then logs whatever it reads.
    const prog = `stty -echo raw; printf 'ready\\033[c\\033[6n\\033[5n'; cat > ${log}`;
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', prog] });
    await waitFor('queries sent', async () => (await client.terminal.getHistory(s.id)).text.includes('ready'));
    // A client whose terminal answers queries, as a real one does, forwarding the answers as input.
    const t = client.terminal.stream();
    const view = render(t);
    view.term.onData((answer) => t.sendInput(answer));
    await t.attach(s.id);
    await waitFor('snapshot drawn', async () => (await view.screen()).join('').includes('ready'));
    t.sendInput('end');
    await waitFor('marker in log', () => existsSync(log) && readFileSync(log, 'utf8').includes('end'));
    expect(readFileSync(log, 'utf8')).toBe('end');
    // The same client fed a raw replay of the output would have answered the old queries.
    const naive = new xterm.Terminal({ cols: 80, rows: 24, allowProposedApi: true });
    let answers = '';
    naive.onData((d) => (answers += d));
    await new Promise<void>(async (r) => naive.write((await client.terminal.getHistory(s.id)).data, () => r()));
    expect(answers).toMatch(/\x1b\[\?/);
    t.close();
    await client.terminal.close(s.id);
  });

  it('a program that never reads its input stalls only its own input, never the agent', async () => {
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', 'stty raw -echo; sleep 60'] });
    await waitFor('raw mode', async () => (await client.terminal.getSession(s.id)).lastActivity.getTime() > 0);
    const t = client.terminal.stream();
    await t.attach(s.id);
    t.sendInput('y'.repeat(4 * 1024 * 1024)); // far more than a tty's input queue holds
    // The agent still answers everything else at once (a blocking pty write would freeze it).
    const t0 = performance.now();
    const r = await client.terminal.execute('echo alive');
    expect(r.output).toBe('alive\n');
    expect((await client.terminal.getSession(s.id)).exited).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
    t.close();
    await client.terminal.close(s.id);
  });

  it('attach and detach 300 times: no exit listener or output hold is left behind (issue 12, defect 4)', async () => {
    const s = await client.terminal.create({ ...BASH });
    const session = agent.sessions.get(s.id);
    const base = session.exitListenerCount;
    for (let i = 0; i < 300; i++) {
      const t = client.terminal.stream();
      await t.attach(s.id);
      t.close();
    }
    await waitFor('every detach to land', () => session.exitListenerCount === base, 30_000);
    expect(session.holds.size).toBe(0);
    await client.terminal.close(s.id);
  });

  it('UTF-8 (CJK, emoji, combining marks) split across chunks arrives intact', async () => {
    const text = '日本語 😀👍🏽 é\u0301 ñ 한국어';
    const prog = `node -e 'const b=Buffer.from(process.argv[1]);let i=0;const t=setInterval(()=>{process.stdout.write(b.subarray(i,i+1));if(++i>=b.length){clearInterval(t);process.stdout.write("|END\\n")}},3)' '${text}'; sleep 30`;
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', prog] });
    const t = client.terminal.stream();
    const chunks: Buffer[] = [];
    t.onOutput((b) => chunks.push(Buffer.from(b)));
    await t.attach(s.id);
    await waitFor('all bytes', () => Buffer.concat(chunks).toString('utf8').includes('|END'), 10_000);
    expect(Buffer.concat(chunks).toString('utf8')).toContain(text + '|END');
    t.close();
    await client.terminal.close(s.id);
  });

  it('bad input gets typed errors and the session keeps working', async () => {
    await expect(client.terminal.getSession('no-such-session')).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(client.terminal.sendInput('no-such-session', 'x')).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(client.terminal.stream().attach('no-such-session')).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(client.terminal.create({ cols: 100_000, rows: 10 })).rejects.toBeInstanceOf(ValidationError);
    await expect(client.terminal.create({ cwd: '/no/such/dir' })).rejects.toBeInstanceOf(ValidationError);
    const s = await client.terminal.create(BASH);
    await expect(client.terminal.resize(s.id, -1, 10)).rejects.toBeInstanceOf(ValidationError);
    await expect(client.terminal.resize(s.id, 0, 10)).rejects.toBeInstanceOf(ValidationError);
    await expect(client.terminal.resize(s.id, 10, 5000)).rejects.toBeInstanceOf(ValidationError);
    // An oversize message on an attach stream ends that stream only.
    const raw = await client.stream('tty', { service: 'terminal', method: 'attach', request: cmdop.v1.AttachRequest.encode({ sessionId: s.id }).finish() });
    const ended = new Promise<unknown>((r) => raw.handle({ onClose: r }));
    raw.write(new Uint8Array([MSG_INPUT, 0x80, 0x80, 0x80, 0x08])); // claims 16 MiB
    expect(await ended).toMatchObject({ code: 'protocol' });
    // A 3 MiB paste arrives whole.
    const t = client.terminal.stream();
    let text = '';
    t.onOutput((b) => (text += Buffer.from(b).toString()));
    await t.attach(s.id);
    t.sendInput('stty raw -echo; echo RE""ADY; head -c 3145728 | wc -c; stty sane\r');
    await waitFor('raw mode to be on', () => text.includes('READY'));
    t.sendInput('x'.repeat(3145728));
    await waitFor('paste to be read', () => text.includes('3145728'), 30_000);
    t.close();
    await client.terminal.close(s.id);
  });
});

describe('execute', () => {
  let c: Cluster;
  let client: Client;
  beforeAll(async () => {
    c = await startCluster();
    await (await c.startAgent('runner')).online();
    client = await c.client({ timeoutMs: 15_000 });
    client.terminal.setMachine('runner');
  });
  afterAll(async () => {
    await c.close();
  });

  it('returns output with stdout and stderr interleaved, and the exit code', async () => {
    const r = await client.terminal.execute('echo one; echo two >&2; echo three; exit 7');
    expect(r).toMatchObject({ output: 'one\ntwo\nthree\n', exitCode: 7, truncated: false });
    const cwd = await client.terminal.execute('pwd; echo $FOO', { cwd: '/tmp', env: { FOO: 'bar' } });
    expect(cwd.output).toBe('/tmp\nbar\n');
  });

  it('caps output with a truncated flag', async () => {
    const r = await client.terminal.execute('head -c 100000 /dev/zero | tr "\\0" a', { maxOutput: 1000 });
    expect(r.output.length).toBe(1000);
    expect(r.truncated).toBe(true);
  });

  it('on timeout the whole process tree dies and TimeoutError (retryable) is raised', async () => {
    const pidFile = join(c.dir, 'grandchild.pid');
    const err = await client.terminal.execute(`sh -c 'sleep 100 & echo $! > ${pidFile}; wait'`, { timeout: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).retryable).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await waitFor('grandchild to be gone', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 5000);
  });

  it('streams chunks, then the exit code', async () => {
    const s = await client.terminal.executeStream('for i in 1 2 3; do echo chunk$i; sleep 0.05; done; exit 3');
    const got: string[] = [];
    for await (const chunk of s) got.push(new TextDecoder().decode(chunk));
    expect(got.join('')).toBe('chunk1\nchunk2\nchunk3\n');
    expect((await s.result).exitCode).toBe(3);
  });
});
