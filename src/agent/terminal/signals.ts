/**
 * Signals for terminal sessions: a fixed set of names, sent to the pty's foreground process
 * group (what Ctrl-C reaches), found from /proc on Linux and `ps` elsewhere.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ValidationError } from '../../errors.js';

export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGTSTP', 'SIGCONT', 'SIGWINCH', 'SIGUSR1', 'SIGUSR2'] as const;
export type SignalName = (typeof SIGNALS)[number];

export function parseSignal(name: string): SignalName {
  const n = name.toUpperCase().startsWith('SIG') ? name.toUpperCase() : `SIG${name.toUpperCase()}`;
  if (!(SIGNALS as readonly string[]).includes(n)) throw new ValidationError(`unknown signal "${name}"; use one of ${SIGNALS.join(', ')}`, { detail: 'unknown_signal' });
  return n as SignalName;
}

/** The foreground process group of the terminal whose session leader is `pid`, or null. */
export function foregroundGroup(pid: number): number | null {
  try {
    if (process.platform === 'linux') {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const tpgid = Number(fields[5]);
      return tpgid > 0 ? tpgid : null;
    }
    const out = execFileSync('ps', ['-o', 'tpgid=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    const tpgid = Number(out);
    return tpgid > 0 ? tpgid : null;
  } catch {
    return null;
  }
}
