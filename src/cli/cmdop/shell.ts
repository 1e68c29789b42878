/**
 * `cmdop shell <machine>`: an interactive terminal. Raw mode, local resizes forwarded, and
 * Ctrl-] detaches (the session lives on; `--session ID` attaches to it again). The local tty is
 * restored on every way out.
 */
import { UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';

/** Ctrl-]: the detach key, as in telnet. */
export const DETACH_KEY = 0x1d;

export const shellCommand: Command = {
  name: 'shell',
  summary: 'an interactive terminal on a machine (Ctrl-] detaches)',
  usage: 'cmdop shell <machine> [--session ID] [--observe]',
  options: { ...CONNECT, session: { type: 'string' }, observe: { type: 'boolean' } },
  async run(v, pos) {
    const [machine] = pos;
    if (!machine || pos.length > 1) throw new UsageError('usage: cmdop shell <machine> [--session ID] [--observe]');
    const observe = !!v.observe;
    if (observe && !v.session) throw new UsageError('--observe needs --session ID');
    const client = await connect(v);
    const stdin = process.stdin;
    const tty = stdin.isTTY === true;
    const restore = () => {
      if (tty && stdin.isRaw) stdin.setRawMode(false);
    };
    process.once('exit', restore);
    try {
      client.terminal.setMachine(machine);
      const cols = process.stdout.columns || 80;
      const rows = process.stdout.rows || 24;
      const id = (v.session as string | undefined) ?? (await client.terminal.create({ cols, rows })).id;
      // Output credit goes back only once stdout has taken the bytes: a slow terminal pauses the program.
      const t = client.terminal.stream({ mode: observe ? 'observer' : 'operator', cols, rows, manualAck: true });
      t.onOutput((b) => process.stdout.write(b, () => t.ack(b.length)));
      t.onDisconnect((e) => process.stderr.write(`\r\n[cmdop: connection lost (${e.message}); reconnecting]\r\n`));
      t.onReconnect(() => process.stderr.write('\r\n[cmdop: reconnected]\r\n'));
      t.onError((e) => process.stderr.write(`\r\n[cmdop: ${e.code}: ${e.message}]\r\n`));
      const done = new Promise<number>((resolve) => {
        t.onExit((code) => resolve(code));
        stdin.on('data', (d: Buffer) => {
          const k = d.indexOf(DETACH_KEY);
          if (k >= 0) {
            if (k > 0 && !observe) t.sendInput(d.subarray(0, k));
            process.stderr.write(`\r\n[cmdop: detached from session ${id}]\r\n`);
            return resolve(0);
          }
          if (!observe) t.sendInput(d);
        });
        stdin.on('end', () => resolve(0));
        for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve(1));
      });
      await t.attach(id);
      if (tty) stdin.setRawMode(true);
      stdin.resume();
      process.stderr.write(`[cmdop: session ${id}${observe ? ' (observing)' : ''}; Ctrl-] detaches]\r\n`);
      if (!observe) process.stdout.on('resize', () => t.resize(process.stdout.columns, process.stdout.rows));
      const code = await done;
      t.close();
      return code;
    } finally {
      restore();
      stdin.pause();
      await client.close();
    }
  },
};
