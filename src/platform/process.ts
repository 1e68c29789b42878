/**
 * Process groups and signals, per platform, in one place: finding a terminal's foreground group
 * (what Ctrl-C reaches) and killing a whole group (a timed-out command and everything it started).
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** The foreground process group of the terminal whose session leader is `pid`, or null. */
export function foregroundGroup(pid: number): number | null {
  if (process.platform === 'win32') return null;
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

/**
 * Sends `signal` to process group `group` (Unix), or calls `fallback` where there are no groups
 * (Windows) or none was found. A group that is already gone (ESRCH) is not an error.
 */
export function signalGroup(group: number | null | undefined, signal: NodeJS.Signals, fallback: () => void): void {
  try {
    if (group && process.platform !== 'win32') process.kill(-group, signal);
    else fallback();
  } catch (err) {
    // ESRCH: the group ended between the lookup and the kill; nothing is left to signal.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** spawn() options that put a child in its own process group where the platform has them. */
export const OWN_GROUP = { detached: process.platform !== 'win32', windowsHide: true } as const;
