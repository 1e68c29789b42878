import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { Client } from '../../src/client/client.js';
import { ConnectionError } from '../../src/errors.js';
import { startCluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/procs.js';
import { WebSocket } from 'ws';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';

describe('local mode', () => {
  it('Client.local() finds the agent through its discovery file and speaks the same protocol', async () => {
    const c = await startCluster();
    const agent = await c.startAgent('here');
    await agent.online();
    const info = join(c.dir, 'here', 'run', 'agent.info');
    expect(existsSync(info)).toBe(true);
    const sock = join(c.dir, 'here', 'run', 'agent.sock');
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const local = await Client.local({ infoPaths: [info] });
    const status = cmdop.v1.AgentStatus.decode(await local.call('', 'agent', 'status', new Uint8Array()));
    expect(status.hostname).toBe('here');
    expect(status.linkState).toBe('online');
    expect(status.machineId).toBe(agent.relay!.machineId);
    await local.close();

    // The CLI reads the same file.
    const r = await run('cmdop-agent', ['status', '--info', info, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ hostname: 'here', linkState: 'online' });
    await agent.stop();
    expect(existsSync(info)).toBe(false);
    await c.close();
  });

  it('the local socket refuses an unknown major version with the same typed error as the relay (one handshake)', async () => {
    const c = await startCluster();
    const agent = await c.startAgent('versions');
    await agent.online();
    const sock = join(c.dir, 'versions', 'run', 'agent.sock');
    const ws = new WebSocket(`ws+unix://${sock}:/`, { perMessageDeflate: false });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const errors: cmdop.v1.IError[] = [];
    ws.on('message', (d: Buffer) => {
      const f = decodeFrame(new Uint8Array(d));
      if (f.kind === 'error') errors.push(f.frame!.error!);
    });
    const closed = new Promise<number>((r) => ws.once('close', r));
    ws.send(encodeFrame(0, { hello: { major: 2, minor: 0, role: cmdop.v1.Role.CLIENT, software: 'future' } }));
    expect(await closed).toBe(1008);
    expect(errors[0]).toMatchObject({ code: cmdop.v1.ErrorCode.VALIDATION, detail: 'unsupported_version' });
    expect(errors[0]!.message).toMatch(/unsupported protocol version 2\.0: this agent speaks 1\.x; upgrade the agent/);
    await agent.stop();
    await c.close();
  });

  it('a stale discovery file (dead pid) gives "agent not running" and is cleaned up', async () => {
    const { dir, cleanup } = tempDir();
    const info = join(dir, 'run', 'agent.info');
    mkdirSync(join(dir, 'run'));
    // pid 2^22+ is above Linux's pid_max default: no such process.
    writeFileSync(info, JSON.stringify({ pid: 4_194_999, socket: join(dir, 'run', 'agent.sock'), version: 'x', machineId: '', startedMs: 0 }));
    const err = await Client.local({ infoPaths: [info] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/agent not running/);
    expect(existsSync(info)).toBe(false);
    const r = await run('cmdop-agent', ['status', '--info', info]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/agent not running/);
    cleanup();
  });
});
