/** `machine:path` arguments of the file commands. A path with no machine part is local. */
import { UsageError } from './args.js';

export interface RemotePath {
  machine: string;
  path: string;
}

/** Parses `machine:path`; null for a local path (no colon, a colon after a slash, or a drive letter like C:). */
export function parseRemote(arg: string): RemotePath | null {
  const i = arg.indexOf(':');
  if (i <= 0) return null;
  const machine = arg.slice(0, i);
  if (machine.includes('/') || machine.includes('\\') || /^[A-Za-z]$/.test(machine)) return null;
  return { machine, path: arg.slice(i + 1) || '~' };
}

/** Like parseRemote, but the argument must name a machine. */
export function requireRemote(arg: string | undefined, what = 'path'): RemotePath {
  const r = arg ? parseRemote(arg) : null;
  if (!r) throw new UsageError(`${what} must be machine:path, got "${arg ?? ''}"`);
  return r;
}
