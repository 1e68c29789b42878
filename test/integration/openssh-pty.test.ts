/**
 * `ssh -tt` through the relay: the pty is one of our terminal sessions (listed, observable,
 * resizable, recorded), and full-screen programs run and restore the screen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pty from '@lydell/node-pty';
import type { Agent } from '../../src/agent/agent.js';
import { parseCast } from '../../src/protocol/asciicast.js';
import type { Cluster } from '../helpers/cluster.js';
import { sshBox, type SshEnv } from '../helpers/openssh.js';
import { collect } from '../helpers/collect.js';
import { waitFor } from '../helpers/wait.js';

describe('OpenSSH ssh -tt through the relay', () => {
  let c: Cluster;
  let agent: Agent;
  let s: SshEnv;
  beforeAll(async () => {
    ({ c, agent, s } = await sshBox());
  });
  afterAll(() => c.close());

  it('ssh -tt: a pty that is one of our sessions (listed, with its size), resizes reach the program, vim and top run and restore the screen', async () => {
    const term = pty.spawn('ssh', [...s.opts, '-tt', 'ssh-box'], { cols: 100, rows: 30, env: s.env as Record<string, string> });
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
    term.write('echo READY-$((40+2))\r');
    await waitFor('the shell', () => out.includes('READY-42'), 20_000);
    term.write('stty size\r');
    await waitFor('the size', () => out.includes('30 100'), 10_000);
    const sessions = agent.sessions.list().filter((x) => !x.exit && x.info().clients!.some((cl) => (cl.id ?? '').startsWith('ssh/')));
    expect(sessions.length).toBe(1);
    // The same session from our SDK: an observer sees what the ssh user types.
    const watcher = (await c.client()).terminal;
    watcher.setMachine('ssh-box');
    const obs = watcher.stream({ mode: 'observer' });
    let seen = '';
    obs.onOutput((b) => (seen += Buffer.from(b).toString()));
    await obs.attach(sessions[0]!.id);
    term.write('echo OBSERVED-$((6*7))\r');
    await waitFor('the observer to see it', () => seen.includes('OBSERVED-42'), 10_000);
    await obs.close();
    term.resize(120, 40);
    // ssh sends its window-change when it handles SIGWINCH, apart from what is typed: ask the
    // shell only once the resize has reached our session, or stty may answer the old size.
    await waitFor('the resize at the session', () => sessions[0]!.cols === 120 && sessions[0]!.rows === 40, 10_000);
    term.write('stty size\r');
    await waitFor('the new size', () => out.includes('40 120'), 10_000);
    term.write('vim -u NONE\r');
    await waitFor('vim on the alternate screen', () => out.includes('\x1b[?1049h'), 10_000);
    term.write('\x1b:q!\r');
    await waitFor('vim gone, the screen restored', () => out.includes('\x1b[?1049l'), 10_000);
    out = '';
    term.write('top\r');
    await waitFor('top', () => /load average/.test(out), 10_000);
    term.write('q');
    await waitFor('top gone', () => out.includes('\x1b[?1049l') || /\$ $|# $/.test(out), 10_000);
    term.write('exit 3\r');
    expect(await exited).toBe(3);
    await waitFor('the session to end with its shell', () => sessions[0]!.exit !== null);
    // Recorded at the agent like any terminal session: the ssh user's screen, the resize, the exit.
    await waitFor('the recording to close', () => agent.recordings.get(sessions[0]!.id).status === 'complete');
    const cast = Buffer.from(await collect(await watcher.recordings.stream(sessions[0]!.id))).toString('utf8');
    const { events } = parseCast(cast);
    expect(events.filter((e) => e.code === 'o').map((e) => e.data).join('')).toContain('OBSERVED-42');
    expect(events.filter((e) => e.code === 'r').map((e) => e.data)).toContain('120x40');
    expect(events.at(-1)).toMatchObject({ code: 'm', data: 'exit 3' });
  });
});
