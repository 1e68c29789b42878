/** systemd (Linux): a unit file, daemon-reload, enable --now; logs from the journal. */
import { posix } from 'node:path';
import { q, serviceArgv, type InstallInput, type Layout, type ServiceManager, type Step } from './plan.js';

const UNIT = 'cmdop-agent.service';

export function systemdUnit(i: InstallInput): string {
  const L = i.layout;
  const systemOnly = L.user
    ? '# (per-user service: state lives in the home directory)'
    : ['StateDirectory=cmdop', 'StateDirectoryMode=0700', 'ConfigurationDirectory=cmdop', 'RuntimeDirectory=cmdop'].join('\n');
  return i.templates.systemd
    .replace('@EXEC_START@', serviceArgv(i).map(q).join(' '))
    .replace('@SYSTEM_ONLY@', systemOnly)
    .replace(
      '@RESTART_BACKOFF@',
      (i.systemdVersion ?? 0) >= 254
        ? '# Back off on repeated failures: 2 s growing to 60 s over 5 restarts.\nRestartSteps=5\nRestartMaxDelaySec=60'
        : '# (systemd < 254 has no RestartSteps: a steady 2 s; the agent backs off its own reconnects)',
    )
    .replace('@WANTED_BY@', L.user ? 'default.target' : 'multi-user.target');
}

const ctl = (L: Layout) => (L.user ? ['systemctl', '--user'] : ['systemctl']);

export const systemd: ServiceManager = {
  install(i): Step[] {
    const L = i.layout;
    return [
      { kind: 'mkdir', path: posix.dirname(L.serviceFile!), mode: 0o755 },
      { kind: 'write', path: L.serviceFile!, content: systemdUnit(i), mode: 0o644 },
      { kind: 'run', argv: [...ctl(L), 'daemon-reload'] },
      { kind: 'run', argv: [...ctl(L), 'enable', '--now', UNIT] },
    ];
  },
  uninstall(L): Step[] {
    return [{ kind: 'run', argv: [...ctl(L), 'disable', '--now', UNIT], ignoreFailure: true }, { kind: 'remove', path: L.serviceFile! }, { kind: 'run', argv: [...ctl(L), 'daemon-reload'], ignoreFailure: true }];
  },
  control(L, action, follow): string[] {
    if (action === 'state') return [...ctl(L), 'is-active', UNIT];
    if (action === 'logs') return ['journalctl', ...(L.user ? ['--user'] : []), '-u', UNIT, '-o', 'cat', ...(follow ? ['-f'] : ['-n', '200', '--no-pager'])];
    return [...ctl(L), action, UNIT];
  },
};
