/** `cmdop exec <machine> -- <cmd...>`: output streamed, exit code propagated. */
import os from 'node:os';
import { commandLine, parseDuration, UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';
import { fleetExec } from './fleet-exec.js';

export const execCommand: Command = {
  name: 'exec',
  summary: 'run a command on a machine; output streams, the exit code is passed on',
  usage: 'cmdop exec <machine> [--timeout-cmd 30s] [--cwd DIR] -- <command...>\n       cmdop exec --fleet NAME [--parallel 50] [--timeout 30s] [--json] -- <command...>',
  options: { ...CONNECT, 'timeout-cmd': { type: 'string' }, cwd: { type: 'string' }, fleet: { type: 'string' }, parallel: { type: 'string' }, json: { type: 'boolean' } },
  async run(v, pos) {
    const fleet = v.fleet as string | undefined;
    const [machine, ...rest] = pos;
    const cmd = fleet ? pos : rest;
    if ((!fleet && !machine) || cmd.length === 0) throw new UsageError('usage: cmdop exec <machine> -- <command...>  (or --fleet NAME -- <command...>)');
    // With --fleet, --timeout is each machine's command timeout (30s), as the CLI reads.
    const fleetTimeout = fleet ? ((v['timeout-cmd'] ?? v.timeout) as string | undefined) : undefined;
    if (fleet) delete v.timeout;
    const client = await connect(v);
    try {
      const command = commandLine(cmd);
      if (fleet) {
        return await fleetExec(client, fleet, command, { parallel: v.parallel ? Number(v.parallel) : undefined, timeoutMs: fleetTimeout ? parseDuration(fleetTimeout) : undefined, json: !!v.json });
      }
      client.terminal.setMachine(machine!);
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
