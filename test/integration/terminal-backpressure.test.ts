import { describe, expect, it } from 'vitest';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { MessageReader, MSG_EVENT } from '../../src/protocol/messages.js';
import { startCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

describe('terminal backpressure', () => {
  it('a stalled observer is skipped ahead (gap + snapshot): memory stays bounded and the operator gets every byte', async () => {
    const c = await startCluster();
    await (await c.startAgent('flood')).online();
    const client = await c.client({ timeoutMs: 30_000 });
    client.terminal.setMachine('flood');
    const total = 200 * 1024 * 1024;
    // 200 MiB in lines of 99 characters; the tty makes each \n a \r\n.
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', `stty -echo; read x; head -c ${total} /dev/zero | tr '\\0' x | fold -w 99; read y`] });

    // The observer reads nothing at all: its window fills and stays full.
    const req = cmdop.v1.AttachRequest.encode({ sessionId: s.id, mode: cmdop.v1.AttachMode.OBSERVER }).finish();
    const observer = await client.stream('flood', { service: 'terminal', method: 'attach', request: req });
    observer.autoConsume = false;
    const held: Uint8Array[] = [];
    observer.handle({ onData: (d) => held.push(d) });

    const op = client.terminal.stream();
    let got = 0;
    op.onLiveOutput((b) => (got += b.length));
    await op.attach(s.id);
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    op.sendInput('\n');
    await waitFor('the flood to pass', () => got > total, 120_000);
    // Every byte the session produced reached the operator (the agent's own count is the truth).
    await waitFor('the operator to catch up', async () => got === (await client.terminal.getSession(s.id)).outputOffset, 20_000);
    clearInterval(sampler);
    const growthMiB = (peak - base) / 1048576;
    console.log(`RSS growth while 200 MiB went past a stalled observer (agent, relay and client in this process): ${growthMiB.toFixed(1)} MiB`);
    expect(growthMiB).toBeLessThan(96);

    // Now the observer reads: it gets a gap marker and a fresh screen, not 200 MiB of backlog.
    const events: cmdop.v1.TerminalEvent[] = [];
    const reader = new MessageReader((type, body) => type === MSG_EVENT && events.push(cmdop.v1.TerminalEvent.decode(body)));
    observer.autoConsume = true;
    observer.handle({ onData: (d) => reader.push(d) });
    for (const d of held) reader.push(d);
    observer.consume(held.reduce((n, d) => n + d.length, 0));
    await waitFor('gap and snapshot', () => events.some((e) => e.kind === 'gap') && events.filter((e) => e.kind === 'snapshot').length >= 2, 20_000);
    const gap = events.find((e) => e.kind === 'gap')!.gap!;
    expect(Number(gap.to) - Number(gap.from)).toBeGreaterThan(100 * 1024 * 1024);
    op.close();
    observer.end();
    await client.terminal.close(s.id);
    await c.close();
  });

  it('with manualAck, output stops at the window until the consumer acknowledges what it wrote, then flows again (issue 12, defect 5)', async () => {
    const c = await startCluster();
    const agent = await c.startAgent('acker');
    await agent.online();
    const client = await c.client({ timeoutMs: 30_000 });
    client.terminal.setMachine('acker');
    const s = await client.terminal.create({ shell: '/bin/sh', args: ['-c', 'stty -echo; read x; yes cmdop-ack-test; read y'] });
    const t = client.terminal.stream({ manualAck: true });
    const written: number[] = [];
    t.onOutput((b) => written.push(b.length)); // a consumer that never finishes writing: no ack
    await t.attach(s.id);
    t.sendInput('\n');
    // The program is paused behind the unacknowledged bytes: nothing more than the window arrives.
    await waitFor('the agent to pause the pty', () => agent.sessions.get(s.id).paused, 30_000);
    const stalled = t.unacknowledged;
    expect(stalled).toBeGreaterThan(0);
    expect(stalled).toBeLessThanOrEqual(4 * 1024 * 1024 + 64 * 1024); // the attach window, plus one message
    // Acknowledging lets it flow again.
    t.ack(stalled);
    await waitFor('output to resume after the ack', () => written.reduce((a, b) => a + b, 0) > stalled, 30_000);
    expect(t.unacknowledged).toBeLessThanOrEqual(4 * 1024 * 1024 + 64 * 1024);
    t.close();
    await client.terminal.close(s.id);
    await c.close();
  });
});
