/**
 * What `cmdop-agent install` and `uninstall` do, as a plan: files to write and commands to run,
 * per platform (systemd, launchd, Windows service). Pure: the same plan is printed by --dry-run,
 * applied under a fake root by --root, and applied for real.
 */
import { posix, win32 } from 'node:path';
import { agentPaths, type PathEnv } from '../../platform/paths.js';

export type ServicePlatform = 'linux' | 'darwin' | 'win32';

export interface Layout {
  platform: ServicePlatform;
  user: boolean;
  home: string;
  /** Where the agent's config file goes. */
  configFile: string;
  stateDir: string;
  /** The stable path the executable is copied to (single executables), or null (run from node). */
  binPath: string | null;
  /** The service definition file (unit, plist), or null (Windows keeps it in the SCM). */
  serviceFile: string | null;
  logFile: string | null;
  serviceName: string;
}

export type Step =
  | { kind: 'mkdir'; path: string; mode: number }
  | { kind: 'write'; path: string; content: string; mode: number; secret?: boolean }
  | { kind: 'copy'; from: string; path: string; mode: number }
  | { kind: 'remove'; path: string; recursive?: boolean }
  | { kind: 'run'; argv: string[]; ignoreFailure?: boolean };

export function layout(platform: ServicePlatform, user: boolean, home: string, programData = 'C:\\ProgramData', programFiles = 'C:\\Program Files', localAppData?: string): Layout {
  const env: PathEnv = { platform, home, programData, programFiles, localAppData: localAppData ?? win32.join(home, 'AppData', 'Local'), userName: 'user' };
  const p = agentPaths(env, user ? 'user' : 'system');
  const logFile = platform === 'darwin' && p.logDir ? posix.join(p.logDir, 'agent.log') : null;
  return { platform, user, home, configFile: p.configFile, stateDir: p.stateDir, binPath: p.binPath, serviceFile: p.serviceFile, logFile, serviceName: p.serviceName };
}

export interface InstallInput {
  layout: Layout;
  /** The running executable (single executable) or [node, script] (from npm). */
  exec: { binary: string } | { node: string; script: string };
  /** The agent config to write: relay, fingerprint, hostname, labels... (never the join token). */
  config: Record<string, unknown>;
  templates: { systemd: string; launchd: string };
  /** The target's systemd version: from 254 on, restarts back off (RestartSteps). */
  systemdVersion?: number;
}

const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The command line the service runs. */
export function serviceArgv(i: InstallInput): string[] {
  const L = i.layout;
  const head = 'binary' in i.exec ? [L.binPath ?? i.exec.binary] : [i.exec.node, i.exec.script];
  return [...head, 'run', '--config', L.configFile];
}

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

export function launchdPlist(i: InstallInput): string {
  return i.templates.launchd
    .replace('@PROGRAM_ARGUMENTS@', serviceArgv(i).map((a) => `    <string>${xml(a)}</string>`).join('\n'))
    .replaceAll('@LOG_FILE@', xml(i.layout.logFile ?? '/dev/null'));
}

/** `sc.exe` wants the whole command line as one binPath= value. */
export function windowsBinPath(i: InstallInput): string {
  return serviceArgv(i).map((a) => (/[\s"]/.test(a) ? `"${a.replace(/"/g, '\\"')}"` : a)).join(' ');
}

export function installPlan(i: InstallInput): Step[] {
  const L = i.layout;
  const path = L.platform === 'win32' ? win32 : posix;
  const steps: Step[] = [
    { kind: 'mkdir', path: path.dirname(L.configFile), mode: 0o755 },
    { kind: 'mkdir', path: L.stateDir, mode: 0o700 },
    { kind: 'write', path: L.configFile, content: JSON.stringify({ ...i.config, stateDir: L.stateDir }, null, 2) + '\n', mode: 0o600 },
  ];
  if ('binary' in i.exec && L.binPath) {
    steps.push({ kind: 'mkdir', path: path.dirname(L.binPath), mode: 0o755 }, { kind: 'copy', from: i.exec.binary, path: L.binPath, mode: 0o755 });
  }
  if (L.platform === 'linux') {
    const ctl = L.user ? ['systemctl', '--user'] : ['systemctl'];
    steps.push(
      { kind: 'mkdir', path: path.dirname(L.serviceFile!), mode: 0o755 },
      { kind: 'write', path: L.serviceFile!, content: systemdUnit(i), mode: 0o644 },
      { kind: 'run', argv: [...ctl, 'daemon-reload'] },
      { kind: 'run', argv: [...ctl, 'enable', '--now', 'cmdop-agent.service'] },
    );
  } else if (L.platform === 'darwin') {
    const domain = L.user ? `gui/${process.getuid?.() ?? 501}` : 'system';
    steps.push(
      { kind: 'mkdir', path: path.dirname(L.serviceFile!), mode: 0o755 },
      { kind: 'mkdir', path: path.dirname(L.logFile!), mode: 0o755 },
      { kind: 'write', path: L.serviceFile!, content: launchdPlist(i), mode: 0o644 },
      { kind: 'run', argv: ['launchctl', 'bootout', `${domain}/${L.serviceName}`], ignoreFailure: true },
      { kind: 'run', argv: ['launchctl', 'bootstrap', domain, L.serviceFile!] },
      { kind: 'run', argv: ['launchctl', 'enable', `${domain}/${L.serviceName}`] },
      { kind: 'run', argv: ['launchctl', 'kickstart', '-k', `${domain}/${L.serviceName}`] },
    );
  } else {
    steps.push(
      { kind: 'run', argv: ['sc.exe', 'create', L.serviceName, 'binPath=', windowsBinPath(i), 'start=', 'auto', 'DisplayName=', 'cmdop agent'] },
      { kind: 'run', argv: ['sc.exe', 'description', L.serviceName, 'cmdop agent: this machine as an API endpoint (outbound-only to a relay)'] },
      { kind: 'run', argv: ['sc.exe', 'failure', L.serviceName, 'reset=', '86400', 'actions=', 'restart/2000/restart/10000/restart/30000'] },
      { kind: 'run', argv: ['sc.exe', 'start', L.serviceName] },
    );
  }
  return steps;
}

export function uninstallPlan(L: Layout, purge: boolean): Step[] {
  const steps: Step[] = [];
  if (L.platform === 'linux') {
    const ctl = L.user ? ['systemctl', '--user'] : ['systemctl'];
    steps.push({ kind: 'run', argv: [...ctl, 'disable', '--now', 'cmdop-agent.service'], ignoreFailure: true }, { kind: 'remove', path: L.serviceFile! }, { kind: 'run', argv: [...ctl, 'daemon-reload'], ignoreFailure: true });
  } else if (L.platform === 'darwin') {
    const domain = L.user ? `gui/${process.getuid?.() ?? 501}` : 'system';
    steps.push({ kind: 'run', argv: ['launchctl', 'bootout', `${domain}/${L.serviceName}`], ignoreFailure: true }, { kind: 'remove', path: L.serviceFile! });
  } else {
    steps.push({ kind: 'run', argv: ['sc.exe', 'stop', L.serviceName], ignoreFailure: true }, { kind: 'run', argv: ['sc.exe', 'delete', L.serviceName], ignoreFailure: true });
  }
  if (L.binPath) steps.push({ kind: 'remove', path: L.binPath });
  if (purge) steps.push({ kind: 'remove', path: L.configFile }, { kind: 'remove', path: L.stateDir, recursive: true });
  return steps;
}

/** Service control per platform: start, stop, restart, state, logs. */
export function controlArgv(L: Layout, action: 'start' | 'stop' | 'restart' | 'state' | 'logs', follow = false): string[] {
  if (L.platform === 'linux') {
    const ctl = L.user ? ['systemctl', '--user'] : ['systemctl'];
    if (action === 'state') return [...ctl, 'is-active', 'cmdop-agent.service'];
    if (action === 'logs') return ['journalctl', ...(L.user ? ['--user'] : []), '-u', 'cmdop-agent.service', '-o', 'cat', ...(follow ? ['-f'] : ['-n', '200', '--no-pager'])];
    return [...ctl, action, 'cmdop-agent.service'];
  }
  if (L.platform === 'darwin') {
    const target = `${L.user ? `gui/${process.getuid?.() ?? 501}` : 'system'}/${L.serviceName}`;
    if (action === 'start') return ['launchctl', 'kickstart', target];
    if (action === 'restart') return ['launchctl', 'kickstart', '-k', target];
    if (action === 'stop') return ['launchctl', 'kill', 'SIGTERM', target];
    if (action === 'state') return ['launchctl', 'print', target];
    return follow ? ['tail', '-f', L.logFile!] : ['tail', '-n', '200', L.logFile!];
  }
  if (action === 'state') return ['sc.exe', 'query', L.serviceName];
  if (action === 'logs') return ['powershell', '-NoProfile', '-Command', "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='cmdop-agent'} -MaxEvents 200 | Format-List"];
  if (action === 'restart') return ['powershell', '-NoProfile', '-Command', 'Restart-Service cmdop-agent'];
  return ['sc.exe', action, L.serviceName];
}

/** The plan as text, for --dry-run. */
export function describePlan(steps: Step[]): string {
  return steps
    .map((s) => {
      switch (s.kind) {
        case 'mkdir': return `mkdir -p ${s.path}  (mode ${s.mode.toString(8)})`;
        case 'write': return `write ${s.path}  (mode ${s.mode.toString(8)})\n${s.content.replace(/^/gm, '    | ')}`;
        case 'copy': return `copy ${s.from} -> ${s.path}  (mode ${s.mode.toString(8)})`;
        case 'remove': return `remove ${s.path}${s.recursive ? ' (recursively)' : ''}`;
        case 'run': return `run: ${s.argv.map(q).join(' ')}${s.ignoreFailure ? '  (failure ignored)' : ''}`;
      }
    })
    .join('\n');
}
