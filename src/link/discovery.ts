/**
 * The local agent's discovery file: where its socket is, so `Client.local()` needs no flags.
 * ~/.cmdop/agent.info for a user agent, /var/run/cmdop/agent.info for a system one.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { discoveryFiles } from '../platform/paths.js';
import { ConnectionError } from '../errors.js';

export interface DiscoveryInfo {
  pid: number;
  socket: string;
  version: string;
  machineId: string;
  startedMs: number;
}

/** The discovery files to try: this user's agent first, then the system one (platform/paths.ts). */
export function discoveryCandidates(): string[] {
  return discoveryFiles();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else (a system agent).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Finds a running local agent. A file whose pid is dead is stale: it is removed (when we may)
 * and the next candidate is tried.
 */
export function findLocalAgent(paths: string[] = discoveryCandidates()): DiscoveryInfo {
  for (const p of paths) {
    if (!existsSync(p)) continue;
    let info: DiscoveryInfo;
    try {
      info = JSON.parse(readFileSync(p, 'utf8')) as DiscoveryInfo;
    } catch {
      continue;
    }
    if (typeof info.pid === 'number' && alive(info.pid)) return info;
    try {
      rmSync(p, { force: true });
    } catch {
      // Not ours to remove (a system agent's file); it is still stale.
    }
  }
  throw new ConnectionError('agent not running: no live local agent found (start it with `cmdop-agent run`)', { retryable: false, detail: 'agent_not_running' });
}
