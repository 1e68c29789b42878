/**
 * Where a swarm keeps its simulated agents' state: on tmpfs (/dev/shm) where there is one (see
 * swarm.ts), named after the directory its parent gave it so the parent can remove it after a
 * SIGKILL; else that directory itself.
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';

export function swarmStateDir(given: string): string {
  return existsSync('/dev/shm') ? `/dev/shm/cmdop-swarm-${createHash('sha256').update(given).digest('hex').slice(0, 16)}` : given;
}

export function removeSwarmState(given: string): void {
  rmSync(swarmStateDir(given), { recursive: true, force: true });
}
