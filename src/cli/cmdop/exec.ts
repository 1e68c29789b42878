/** `cmdop exec <machine> -- <cmd...>`: output streamed, exit code propagated. */
import os from 'node:os';
import { parseDuration, UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';

export const execCommand: Command = {
  name: 'exec',
  summary: 'run a command on a machine; output streams, the exit code is passed on',
  usage: 'cmdop exec <machine> [--timeout-cmd 30s] [--cwd DIR] -- <command...>',
  options: { ...CONNECT, 'timeout-cmd': { type: 'string' }, cwd: { type: 'string' } },
  async run(v, pos) {
    const [machine, ...cmd] = pos;
    if (!machine || cmd.length === 0) throw new UsageError('usage: cmdop exec <machine> -- <command...>');
    const client = await connect(v);
    try {
      client.terminal.setMachine(machine);
      const command = cmd.length === 1 ? cmd[0]! : cmd.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
      const out = await client.terminal.executeStream(command, {
        timeout: v['timeout-cmd'] ? parseDuration(v['timeout-cmd'] as string) : undefined,
        cwd: v.cwd as string | undefined,
      });
      for await (const chunk of out) {
        if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
      }
      const r = await out.result;
      return r.signal ? 128 + (signalNumber(r.signal) ?? 1) : r.exitCode;
    } finally {
      await client.close();
    }
  },
};

function signalNumber(name: string): number | undefined {
  return (os.constants.signals as Record<string, number>)[name];
}
