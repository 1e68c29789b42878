/**
 * Session recordings, recorded at the agent: real relay, agent, bash in a real pty. A recording
 * is valid asciicast v2 by our parser and by Debian's `asciinema`, replays with `cmdop play`,
 * honours its size cap, and a full disk (a real tmpfs, filled) never stops a session in
 * best-effort mode, while strict mode refuses the session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import xterm from '@xterm/headless';
import type { Agent } from '../../src/agent/agent.js';
import type { Client } from '../../src/client/client.js';
import { parseCast } from '../../src/protocol/asciicast.js';
import { PermissionError, UnavailableError } from '../../src/errors.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { render } from '../helpers/term.js';
import { collect } from '../helpers/collect.js';
import { rejection, waitFor } from '../helpers/wait.js';
import { run } from '../helpers/procs.js';
import { canMount, fill, mountTmpfs } from '../helpers/tmpfs.js';

const BASH = { shell: '/bin/bash', args: ['--norc', '--noprofile'], env: { PS1: '$ ' } };


/** A session that runs `script` (lines typed into bash), then exits; resolves with its id once its recording is closed. */
async function session(client: Client, script: string[], o: { resize?: [number, number] } = {}): Promise<string> {
  const s = await client.terminal.create({ ...BASH, cols: 80, rows: 24 });
  const t = client.terminal.stream();
  const r = render(t);
  await t.attach(s.id);
  for (const line of script) t.sendInput(`${line}\r`);
  t.sendInput('echo do""ne\r');
  await waitFor('the script to run', () => r.text().includes('done'), 20_000);
  if (o.resize) await client.terminal.resize(s.id, ...o.resize);
  t.close();
  await waitFor('the client to detach', async () => (await client.terminal.getSession(s.id)).attachedClients.length === 0);
  await client.terminal.sendInput(s.id, 'exit\r');
  await waitFor('the session to exit', async () => (await client.terminal.getSession(s.id)).exited, 20_000);
  await waitFor('the recording to close', async () => (await client.terminal.recordings.get(s.id)).status !== 'recording', 20_000);
  return s.id;
}

const auditTypes = (agent: Agent) => readFileSync(agent.audit.path, 'utf8');

describe('session recordings', () => {
  let c: Cluster;
  let client: Client;
  beforeAll(async () => {
    c = await startCluster();
    await (await c.startAgent('rec')).online();
    client = await c.client({ timeoutMs: 20_000 });
    client.terminal.setMachine('rec');
  });
  afterAll(() => c.close());

  it('a session is recorded as asciicast v2: output, resize, markers; valid to asciinema; replayed by cmdop play', async () => {
    const id = await session(client, ["printf 'h\\xc3\\xa9llo-%s\\n' $((6*7))", 'secret-typed-text() { :; }'], { resize: [100, 30] });
    const info = await client.terminal.recordings.get(id);
    expect(info).toMatchObject({ sessionId: id, status: 'complete', cols: 80, rows: 24, shell: '/bin/bash', hostname: 'rec', input: false, error: '' });
    expect(info.bytes).toBeGreaterThan(0);
    expect(info.endedAt).not.toBeNull();
    expect((await client.terminal.recordings.list()).map((r) => r.sessionId)).toContain(id);

    const gz = await collect(await client.terminal.recordings.stream(id, { gzip: true }));
    expect(gz.length).toBe(info.bytes);
    const text = gunzipSync(gz).toString('utf8'); // every gzip member, as zcat reads them
    expect(Buffer.byteLength(text)).toBe(info.castBytes);
    expect(Buffer.from(await collect(await client.terminal.recordings.stream(id))).toString('utf8')).toBe(text);
    const { header, events } = parseCast(text);
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, env: { SHELL: '/bin/bash', TERM: 'xterm-256color' } });
    const output = events.filter((e) => e.code === 'o').map((e) => e.data).join('');
    expect(output).toContain('héllo-42');
    expect(events.some((e) => e.code === 'i')).toBe(false); // input is off by default
    expect(events.filter((e) => e.code === 'r').map((e) => e.data)).toEqual(['100x30']);
    const markers = events.filter((e) => e.code === 'm').map((e) => e.data);
    expect(markers[0]).toMatch(/^attach operator /);
    expect(markers).toContainEqual(expect.stringMatching(/^detach operator /));
    expect(markers).toContain('exit 0');

    // Debian's asciinema reads the same file.
    const file = join(c.dir, `${id}.cast`);
    writeFileSync(file, text);
    // asciinema opens /dev/tty, so it runs in a pty (util-linux `script`), as a user would run it.
    expect(execFileSync('script', ['-qec', `asciinema cat ${file}`, '/dev/null'], { encoding: 'utf8' })).toContain('héllo-42');
    expect(execFileSync('script', ['-qec', `asciinema play -i 0.01 -s 100 ${file}`, '/dev/null'], { encoding: 'utf8' })).toContain('héllo-42');

    const env = { CMDOP_BASE_URL: c.relay.url, CMDOP_TOKEN: c.apiKey, CMDOP_FINGERPRINT: c.relay.fingerprint, CMDOP_PROFILE: '/nonexistent/profile.json' };
    const played = await run('cmdop', ['play', 'rec', id, '--speed', '50', '--idle-time-limit', '0.05'], env);
    expect(played.code, played.stderr).toBe(0);
    expect(played.stdout).toBe(output);
    const saved = join(c.dir, 'saved.cast.gz');
    expect((await run('cmdop', ['play', 'rec', id, '--out', saved], env)).code).toBe(0);
    expect(readFileSync(saved)).toEqual(gz);
    const listed = await run('cmdop', ['recordings', 'rec'], env);
    expect(listed.stdout).toContain(id);
    const missing = await run('cmdop', ['play', 'rec', '00000000-0000-0000-0000-000000000000'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no recording of session/);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // one line, no stack
  });

  it('keystrokes are recorded only when configured; the size cap cuts a recording off as truncated', async () => {
    await (await c.startAgent('rec-input', { recordingInput: true, recordingMaxBytes: 64 * 1024 })).online();
    const other = await c.client({ timeoutMs: 20_000 });
    other.terminal.setMachine('rec-input');
    const id = await session(other, ['echo typed-$((1+1))']);
    const typed = parseCast(Buffer.from(await collect(await other.terminal.recordings.stream(id))).toString('utf8'));
    expect(typed.events.filter((e) => e.code === 'i').map((e) => e.data).join('')).toContain('echo typed-$((1+1))\r');

    // Incompressible output well past the 64 KiB cap.
    const big = await session(other, ['head -c 600000 /dev/urandom | base64 -w 0; echo']);
    const info = await other.terminal.recordings.get(big);
    expect(info.status).toBe('truncated');
    expect(info.error).toMatch(/65536-byte cap/);
    expect(info.bytes).toBeLessThanOrEqual(64 * 1024);
    const cut = parseCast(Buffer.from(await collect(await other.terminal.recordings.stream(big))).toString('utf8'));
    expect(cut.events.at(-1)).toMatchObject({ code: 'm', data: 'recording truncated at the 65536-byte cap' });
  });

  it('segments for the console player: each starts from a snapshot that, with its events, draws the same screen as the whole replay', async () => {
    const id = await session(client, ['for i in 1 2 3 4 5 6; do printf "\\033[3${i}mline-$i\\033[0m\\n"; sleep 0.3; done; clear; echo after-clear']);
    const index = JSON.parse(await client.terminal.recordings.segments(id)) as { duration: number; term: { cols: number; rows: number }; segments: Array<{ start: number; url: string }> };
    expect(index.segments.length).toBeGreaterThan(1);
    expect(index.segments[0]!.start).toBe(0);
    const whole = parseCast(Buffer.from(await collect(await client.terminal.recordings.stream(id))).toString('utf8'));
    const screenOf = async (init: string, events: Array<[number, string, string]>) => {
      const t = new xterm.Terminal({ cols: index.term.cols, rows: index.term.rows, allowProposedApi: true });
      const write = (d: string) => new Promise<void>((r) => t.write(d, r));
      await write(init);
      for (const [, code, data] of events) {
        if (code === 'o') await write(data);
        if (code === 'r') t.resize(...(data.split('x').map(Number) as [number, number]));
      }
      const b = t.buffer.active;
      const rows = Array.from({ length: t.rows }, (_, y) => b.getLine(b.viewportY + y)?.translateToString(true) ?? '');
      t.dispose();
      return rows.join('\n');
    };
    const full = await screenOf('', whole.events.map((e) => [e.time, e.code, e.data]));
    expect(full).toContain('after-clear');
    let events = 0;
    for (let n = 0; n < index.segments.length; n++) {
      const seg = JSON.parse(await client.terminal.recordings.segment(id, n)) as { snapshot: { init: string }; events: Array<[number, string, string]> };
      expect(seg.events[0]![0]).toBeGreaterThanOrEqual(index.segments[n]!.start);
      events += seg.events.length;
      // From this segment's snapshot, the rest of the recording (this and the later segments) ends on the same screen.
      const rest = whole.events.filter((e) => e.time >= index.segments[n]!.start).map((e) => [e.time, e.code, e.data] as [number, string, string]);
      expect(await screenOf(seg.snapshot.init, rest)).toBe(full);
    }
    expect(events).toBe(whole.events.length); // every event in exactly one segment
    expect(await rejection(client.terminal.recordings.segment(id, index.segments.length))).toMatchObject({ code: 'not_found' });
  });

  it('a key that may observe sessions may read recordings; one without terminal rights may not', async () => {
    const id = (await client.terminal.recordings.list())[0]!.sessionId;
    const observer = (await c.relay.state.issueKey({ name: 'watcher', grants: [{ on: 'all', caps: ['terminal:observe'] }] })).secret;
    const execOnly = (await c.relay.state.issueKey({ name: 'runner', grants: [{ on: 'all', caps: ['exec'] }] })).secret;
    const watch = await c.client({ token: observer });
    watch.terminal.setMachine('rec');
    expect((await watch.terminal.recordings.get(id)).sessionId).toBe(id);
    const runner = await c.client({ token: execOnly });
    runner.terminal.setMachine('rec');
    expect(await rejection(runner.terminal.recordings.list())).toBeInstanceOf(PermissionError);
    expect(await rejection(runner.terminal.recordings.stream(id).then((s) => collect(s)))).toBeInstanceOf(PermissionError);
  });

  const full = canMount('/tmp');
  // Mounting a tmpfs needs root; CI runs as root. Without it there is no real full disk to test on.
  describe.skipIf(!full)('on a full disk (a real tmpfs)', () => {
    /** An agent recording onto its own small tmpfs (filled first if `filled`), and a client on it; the tmpfs goes after `fn`. */
    async function onSmallDisk(name: string, o: { bytes: number; filled?: boolean; mode?: string }, fn: (agent: Agent, cl: Client) => Promise<void>): Promise<void> {
      const dir = join(c.dir, `${name}-disk`); // beside the agent's own state dir, not over it
      const umount = mountTmpfs(dir, o.bytes);
      try {
        if (o.filled) fill(dir);
        const agent = await c.startAgent(name, { recordingDir: dir, ...(o.mode ? { recordingMode: o.mode } : {}) });
        await agent.online();
        const cl = await c.client({ timeoutMs: 20_000 });
        cl.terminal.setMachine(name);
        await fn(agent, cl);
      } finally {
        umount();
      }
    }

    it('best-effort: the session starts and works, unrecorded, and a recording.failed audit event says why', async () => {
      await onSmallDisk('rec-full', { bytes: 64 * 1024, filled: true }, async (agent, cl) => {
        const s = await cl.terminal.create(BASH);
        const t = cl.terminal.stream();
        const r = render(t);
        await t.attach(s.id);
        t.sendInput('echo still-$((2*21))\r');
        await waitFor('the echo on a full disk', () => r.text().includes('still-42'));
        expect(auditTypes(agent)).toMatch(/recording\.failed.*no space left on device.*|no space left on device.*recording\.failed/);
        expect(await rejection(cl.terminal.recordings.get(s.id))).toMatchObject({ detail: 'recording_not_found' });
        t.close();
      });
    });

    it('best-effort: a disk that fills mid-session fails the recording, and the session goes on', async () => {
      await onSmallDisk('rec-mid', { bytes: 256 * 1024 }, async (agent, cl) => {
        const s = await cl.terminal.create(BASH);
        const t = cl.terminal.stream();
        const r = render(t);
        await t.attach(s.id);
        t.sendInput('head -c 3000000 /dev/urandom | base64 -w 0; echo; echo after-$((3*3))\r');
        await waitFor('output past the full disk', () => r.text().includes('after-9'), 60_000);
        await waitFor('the recording to fail', async () => (await cl.terminal.recordings.get(s.id)).status === 'failed', 20_000);
        expect((await cl.terminal.recordings.get(s.id)).error).toBe('no space left on device');
        t.sendInput('echo alive-$((5*5))\r');
        await waitFor('the session after the failure', () => r.text().includes('alive-25'));
        await waitFor('the audit event', () => /recording\.failed/.test(auditTypes(agent)));
        t.close();
      });
    });

    it('strict: a disk that fills mid-session ends the session (no unrecorded terminal)', async () => {
      await onSmallDisk('rec-strict-mid', { bytes: 256 * 1024, mode: 'strict' }, async (agent, cl) => {
        const s = await cl.terminal.create(BASH);
        await cl.terminal.sendInput(s.id, 'head -c 3000000 /dev/urandom | base64 -w 0\r');
        await waitFor('the session to be ended', async () => (await cl.terminal.getSession(s.id)).exited, 30_000);
        expect((await cl.terminal.recordings.get(s.id)).status).toBe('failed');
        expect(auditTypes(agent)).toMatch(/recording\.failed/);
      });
    });

    it('strict: a session that cannot be recorded is refused before its program starts', async () => {
      await onSmallDisk('rec-strict', { bytes: 64 * 1024, filled: true, mode: 'strict' }, async (_agent, cl) => {
        const err = await rejection(cl.terminal.create(BASH));
        expect(err).toBeInstanceOf(UnavailableError);
        expect(err.detail).toBe('recording_failed');
        expect(err.message).toMatch(/no space left on device.*not started/);
        expect(await cl.terminal.listSessions()).toEqual([]);
      });
    });
  });
});
