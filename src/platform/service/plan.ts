/**
 * What `cmdop-agent install` and `uninstall` do, as a plan: files to write and commands to run.
 * The shared part (layout, config, binary, the step types) is here; each service manager
 * (systemd.ts, launchd.ts, windows.ts) adds its own, chosen in managers.ts. Pure: the same plan is
 * printed by --dry-run, applied under a fake root by --root, and applied for real.
 */
import { posix, win32 } from 'node:path';
import { agentPaths, type PathEnv } from '../paths.js';

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
  /** Where the service's logs go when the platform has no journal (Windows: Shawl's files). */
  logDir: string | null;
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
  return { platform, user, home, configFile: p.configFile, stateDir: p.stateDir, binPath: p.binPath, serviceFile: p.serviceFile, logFile, logDir: p.logDir, serviceName: p.serviceName };
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
  /** Shawl's executable to install beside the agent (Windows only). */
  shawl?: string | undefined;
}

export const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);
export const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The command line the service runs. */
export function serviceArgv(i: InstallInput): string[] {
  const L = i.layout;
  const head = 'binary' in i.exec ? [L.binPath ?? i.exec.binary] : [i.exec.node, i.exec.script];
  return [...head, 'run', '--config', L.configFile];
}

/** One service manager (systemd, launchd, the Windows SCM through Shawl): what install, uninstall and control do. */
export interface ServiceManager {
  install(i: InstallInput): Step[];
  uninstall(L: Layout): Step[];
  control(L: Layout, action: ControlAction, follow: boolean): string[];
}

export type ControlAction = 'start' | 'stop' | 'restart' | 'state' | 'logs';

/** The steps every platform shares before its manager's own: directories, the config, the binary. */
export function commonInstallSteps(i: InstallInput): Step[] {
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
  return steps;
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
