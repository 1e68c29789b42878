/**
 * The pid file a serving relay keeps in its data dir, so that `cmdop-relay keys|tokens` can tell
 * "no relay runs here" (edit the state file) from "the relay runs but did not answer" (change
 * nothing): a revoke the running relay never heard of would be undone by its next save.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function pidFilePath(dataDir: string): string {
  return join(dataDir, 'relay.pid');
}

export function writePidFile(dataDir: string): void {
  writeFileSync(pidFilePath(dataDir), `${process.pid}\n`, { mode: 0o644 });
}

/** Removes the pid file if it is this process's. */
export function removePidFile(dataDir: string): void {
  if (runningRelayPid(dataDir) === process.pid) rmSync(pidFilePath(dataDir), { force: true });
}

/** The pid of a live relay serving `dataDir`, or null (no pid file, or its process is gone). */
export function runningRelayPid(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFilePath(dataDir), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}
