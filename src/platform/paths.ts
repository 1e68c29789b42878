/**
 * The one table of where cmdop-agent keeps things, per platform and scope (a system service or a
 * per-user agent): config file, state dir, local socket and discovery file, runtime cache, the
 * installed executable, the service definition and its log. Install, run, status, doctor and the
 * SDK's discovery all read it, so they cannot disagree. Pure: the host is described by a PathEnv
 * (hostPathEnv() reads it from this process, in this one place).
 */
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';

export type OsName = 'linux' | 'darwin' | 'win32';
export type Scope = 'system' | 'user';

export interface PathEnv {
  platform: OsName;
  home: string;
  /** Windows: %ProgramData%, %ProgramFiles%, %LOCALAPPDATA%; the user name (for the pipe). */
  programData: string;
  programFiles: string;
  localAppData: string;
  userName: string;
  /** XDG_CACHE_HOME when set. */
  xdgCache?: string | undefined;
}

export interface AgentPaths {
  scope: Scope;
  configFile: string;
  stateDir: string;
  /** Directory of the local socket and the discovery file. */
  runDir: string;
  socketPath: string;
  discoveryFile: string;
  /** Runtime files unpacked from a single executable (node-pty's addon), per version. */
  runtimeDir: string;
  /** Where `install` copies a single executable. */
  binPath: string;
  /** The service definition file (systemd unit, launchd plist); null on Windows (the SCM keeps it). */
  serviceFile: string | null;
  /** Where the service's output goes when the platform has no journal (launchd, Windows). */
  logDir: string | null;
  serviceName: string;
}

export function agentPaths(env: PathEnv, scope: Scope): AgentPaths {
  const system = scope === 'system';
  if (env.platform === 'win32') {
    const dir = system ? win32.join(env.programData, 'cmdop') : win32.join(env.localAppData, 'cmdop');
    return {
      scope,
      configFile: win32.join(dir, 'agent.json'),
      stateDir: win32.join(dir, 'state'),
      runDir: dir,
      socketPath: `\\\\.\\pipe\\cmdop-agent-${system ? 'system' : env.userName}`,
      discoveryFile: win32.join(dir, 'agent.info'),
      runtimeDir: win32.join(dir, 'runtime'),
      binPath: system ? win32.join(env.programFiles, 'cmdop', 'cmdop-agent.exe') : win32.join(dir, 'cmdop-agent.exe'),
      serviceFile: null,
      logDir: win32.join(dir, 'logs'),
      serviceName: 'cmdop-agent',
    };
  }
  const p = posix;
  if (env.platform === 'darwin') {
    const support = system ? '/Library/Application Support/cmdop' : p.join(env.home, 'Library/Application Support/cmdop');
    const run = system ? '/var/run/cmdop' : p.join(env.home, '.cmdop');
    return {
      scope,
      configFile: p.join(support, 'agent.json'),
      stateDir: p.join(support, 'state'),
      runDir: run,
      socketPath: p.join(run, 'agent.sock'),
      discoveryFile: p.join(run, 'agent.info'),
      runtimeDir: system ? p.join(support, 'runtime') : p.join(env.home, 'Library/Caches/cmdop/runtime'),
      binPath: system ? '/usr/local/bin/cmdop-agent' : p.join(env.home, '.local/bin/cmdop-agent'),
      serviceFile: system ? '/Library/LaunchDaemons/com.cmdop.agent.plist' : p.join(env.home, 'Library/LaunchAgents/com.cmdop.agent.plist'),
      logDir: system ? '/Library/Logs/cmdop' : p.join(env.home, 'Library/Logs/cmdop'),
      serviceName: 'com.cmdop.agent',
    };
  }
  const run = system ? '/var/run/cmdop' : p.join(env.home, '.cmdop');
  return {
    scope,
    configFile: system ? '/etc/cmdop/agent.json' : p.join(env.home, '.config/cmdop/agent.json'),
    stateDir: system ? '/var/lib/cmdop' : p.join(env.home, '.local/state/cmdop'),
    runDir: run,
    socketPath: p.join(run, 'agent.sock'),
    discoveryFile: p.join(run, 'agent.info'),
    runtimeDir: system ? '/var/lib/cmdop/runtime' : p.join(env.xdgCache ?? p.join(env.home, '.cache'), 'cmdop/runtime'),
    binPath: system ? '/usr/local/bin/cmdop-agent' : p.join(env.home, '.local/bin/cmdop-agent'),
    serviceFile: system ? '/etc/systemd/system/cmdop-agent.service' : p.join(env.home, '.config/systemd/user/cmdop-agent.service'),
    logDir: null,
    serviceName: 'cmdop-agent',
  };
}

/** This host, as the table sees it. */
export function hostPathEnv(): PathEnv {
  const e = process.env;
  const home = homedir();
  return {
    platform: process.platform === 'win32' || process.platform === 'darwin' ? process.platform : 'linux',
    home,
    programData: e.ProgramData ?? 'C:\\ProgramData',
    programFiles: e.ProgramFiles ?? 'C:\\Program Files',
    localAppData: e.LOCALAPPDATA ?? win32.join(home, 'AppData', 'Local'),
    userName: e.USERNAME ?? e.USER ?? 'user',
    xdgCache: e.XDG_CACHE_HOME,
  };
}

/**
 * The scope this process runs in: root on Unix; on Windows the LocalSystem account (what a
 * service runs as: its profile is the systemprofile), otherwise the user's own.
 */
export function hostScope(): Scope {
  if (process.platform === 'win32') return /\\systemprofile$/i.test(process.env.USERPROFILE ?? '') ? 'system' : 'user';
  return process.getuid?.() === 0 ? 'system' : 'user';
}

/** This host's paths in its own scope. */
export function hostPaths(scope: Scope = hostScope()): AgentPaths {
  return agentPaths(hostPathEnv(), scope);
}

/** Discovery files a client on this host looks at: the user's agent first, then the system one. */
export function discoveryFiles(env: PathEnv = hostPathEnv()): string[] {
  return [agentPaths(env, 'user').discoveryFile, agentPaths(env, 'system').discoveryFile];
}
