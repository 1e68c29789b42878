/**
 * The local agent's discovery file: where its sockets are, so `Client.local()` needs no flags.
 * ~/.cmdop/agent.info for a user agent, /var/run/cmdop/agent.info for a system one.
 *
 * One file for both SDKs: the fields the official @cmdop/node SDK reads (`version`, `pid`,
 * `transport`, `address`, `startedAt`; its `discover()` pings `address` over gRPC and deletes the
 * file if that fails) beside ours (`socket`, `machineId`, `startedMs`). A file the official agent
 * wrote has no `socket`: it is left alone while its process lives.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { discoveryFiles } from '../platform/paths.js';
import { ConnectionError } from '../errors.js';

export interface DiscoveryInfo {
  pid: number;
  version: string;
  /** Our protocol's socket (cmdop-agent only). */
  socket?: string;
  machineId?: string;
  startedMs?: number;
  /** The gRPC endpoint, as the official SDK reads it: a Unix socket, a named pipe or a loopback port. */
  transport?: 'unix' | 'pipe' | 'tcp';
  address?: string;
  /** ISO 8601. */
  startedAt?: string;
  tokenPath?: string;
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

/** Parses a discovery file's text; null if it is not one (either SDK's format). Pure. */
export function parseDiscovery(text: string): DiscoveryInfo | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || typeof (v as DiscoveryInfo).pid !== 'number') return null;
  return v as DiscoveryInfo;
}

/**
 * Finds a running local cmdop-agent. A file whose pid is dead is stale: it is removed (when we
 * may) and the next candidate is tried. A live official agent's file (gRPC only) is skipped, kept.
 */
export function findLocalAgent(paths: string[] = discoveryCandidates()): DiscoveryInfo & { socket: string } {
  let foreign = '';
  for (const p of paths) {
    if (!existsSync(p)) continue;
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    const info = parseDiscovery(text);
    if (!info) continue; // half-written or not ours: never delete what we cannot read
    if (alive(info.pid)) {
      if (typeof info.socket === 'string' && info.socket) return info as DiscoveryInfo & { socket: string };
      foreign = p;
      continue;
    }
    try {
      rmSync(p, { force: true });
    } catch {
      // Not ours to remove (a system agent's file); it is still stale.
    }
  }
  if (foreign) throw new ConnectionError(`the agent named in ${foreign} is not cmdop-agent (it speaks only the official gRPC API); use @cmdop/node for it`, { retryable: false, detail: 'agent_not_running' });
  throw new ConnectionError('agent not running: no live local agent found (start it with `cmdop-agent run`)', { retryable: false, detail: 'agent_not_running' });
}
