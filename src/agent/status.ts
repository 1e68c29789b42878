/** agent.status: what `cmdop-agent status` prints, from the running agent itself. */
import { cmdop } from '../protocol/gen/cmdop.js';
import { VERSION } from '../version.js';
import type { RelayLink } from './link/relay-link.js';

export function agentStatus(o: { hostname: string; startedMs: number; relay: RelayLink | null; localStreams: () => number; schedules: () => { held: number; pending: number } }): cmdop.v1.IAgentStatus {
  const sched = o.schedules();
  const s = o.relay?.status();
  return {
    version: VERSION,
    machineId: s?.machineId ?? '',
    hostname: o.hostname,
    linkState: s?.state ?? 'idle',
    relayUrl: s?.relayUrl ?? '',
    lastError: s?.lastError ?? '',
    lastErrorMs: s?.lastErrorMs ?? 0,
    lastHeartbeatMs: s?.lastHeartbeatMs ?? 0,
    onlineSinceMs: s?.onlineSinceMs ?? 0,
    reconnects: s?.reconnects ?? 0,
    pid: process.pid,
    startedMs: o.startedMs,
    rssBytes: process.memoryUsage.rss(),
    activeStreams: (s?.activeStreams ?? 0) + o.localStreams(),
    schedules: sched.held,
    runsPending: sched.pending,
  };
}
