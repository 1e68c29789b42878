/**
 * What the bench needs from the machine, and what it started. A group whose peer is missing is
 * skipped with one line (MissingPeer); every process a group starts is registered here, so the
 * runner stops whatever is left when the group ends, however it ends.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A program a group compares against is not installed. */
export class MissingPeer extends Error {}

/** Throws MissingPeer unless `path` exists; `pkg` is the Debian package that provides it. */
export function requirePeer(path: string, pkg: string): void {
  if (!existsSync(path)) throw new MissingPeer(`needs ${path} (apt-get install ${pkg})`);
}

const started = new Set<ChildProcess>();

/** Registers a child the current group started; it is killed when the group ends if still running. */
export function track<T extends ChildProcess>(child: T): T {
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/** Kills every registered child still running (SIGKILL) and waits for them to go. */
export async function stopStarted(): Promise<number> {
  const running = [...started].filter((c) => c.exitCode === null && c.signalCode === null);
  // Those the group already signalled (and whose exit is on its way) are not "left running".
  const left = running.filter((c) => !c.killed).length;
  await Promise.all(running.map((c) => new Promise<void>((r) => {
    c.once('exit', () => r());
    c.kill('SIGKILL');
  })));
  started.clear();
  return left;
}

/** Cleanups a group registered (temp servers started without a child of ours, like sshd). */
const cleanups = new Set<() => void>();

export function onGroupEnd(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export function runGroupCleanups(): void {
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // best effort: the group's own finally already tried
    }
  }
  cleanups.clear();
}
