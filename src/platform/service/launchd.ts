/** launchd (macOS): a plist in LaunchDaemons / LaunchAgents, bootstrapped and kicked; logs to a file. */
import { posix } from 'node:path';
import { serviceArgv, xml, type InstallInput, type Layout, type ServiceManager, type Step } from './plan.js';

export function launchdPlist(i: InstallInput): string {
  return i.templates.launchd
    .replace('@PROGRAM_ARGUMENTS@', serviceArgv(i).map((a) => `    <string>${xml(a)}</string>`).join('\n'))
    .replaceAll('@LOG_FILE@', xml(i.layout.logFile ?? '/dev/null'));
}

const domain = (L: Layout) => (L.user ? `gui/${process.getuid?.() ?? 501}` : 'system');

export const launchd: ServiceManager = {
  install(i): Step[] {
    const L = i.layout;
    const d = domain(L);
    return [
      { kind: 'mkdir', path: posix.dirname(L.serviceFile!), mode: 0o755 },
      { kind: 'mkdir', path: posix.dirname(L.logFile!), mode: 0o755 },
      { kind: 'write', path: L.serviceFile!, content: launchdPlist(i), mode: 0o644 },
      { kind: 'run', argv: ['launchctl', 'bootout', `${d}/${L.serviceName}`], ignoreFailure: true },
      { kind: 'run', argv: ['launchctl', 'bootstrap', d, L.serviceFile!] },
      { kind: 'run', argv: ['launchctl', 'enable', `${d}/${L.serviceName}`] },
      { kind: 'run', argv: ['launchctl', 'kickstart', '-k', `${d}/${L.serviceName}`] },
    ];
  },
  uninstall(L): Step[] {
    return [{ kind: 'run', argv: ['launchctl', 'bootout', `${domain(L)}/${L.serviceName}`], ignoreFailure: true }, { kind: 'remove', path: L.serviceFile! }];
  },
  control(L, action, follow): string[] {
    const target = `${domain(L)}/${L.serviceName}`;
    if (action === 'start') return ['launchctl', 'kickstart', target];
    if (action === 'restart') return ['launchctl', 'kickstart', '-k', target];
    if (action === 'stop') return ['launchctl', 'kill', 'SIGTERM', target];
    if (action === 'state') return ['launchctl', 'print', target];
    return follow ? ['tail', '-f', L.logFile!] : ['tail', '-n', '200', L.logFile!];
  },
};
