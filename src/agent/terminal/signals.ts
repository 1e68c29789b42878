/**
 * Signals for terminal sessions: a fixed set of names, sent to the pty's foreground process
 * group (what Ctrl-C reaches; see platform/process.ts).
 */
import { ValidationError } from '../../errors.js';

export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGTSTP', 'SIGCONT', 'SIGWINCH', 'SIGUSR1', 'SIGUSR2'] as const;
export type SignalName = (typeof SIGNALS)[number];

export function parseSignal(name: string): SignalName {
  const n = name.toUpperCase().startsWith('SIG') ? name.toUpperCase() : `SIG${name.toUpperCase()}`;
  if (!(SIGNALS as readonly string[]).includes(n)) throw new ValidationError(`unknown signal "${name}"; use one of ${SIGNALS.join(', ')}`, { detail: 'unknown_signal' });
  return n as SignalName;
}

export { foregroundGroup } from '../../platform/process.js';
