/** `cmdop-agent install | uninstall | start | stop | restart | logs | doctor`: the agent as a system service. */
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { Agent } from '../agent/agent.js';
import { AGENT_SETTINGS, loadAgentConfig, type AgentConfig } from '../agent/config.js';
import { applyPlan, rooted } from '../platform/service/apply.js';
import { CHECKS, runDoctor, type CheckName } from '../agent/service/doctor.js';
import { describePlan, layout, type Layout, type ServicePlatform } from '../platform/service/plan.js';
import { controlArgv, installPlan, uninstallPlan } from '../platform/service/managers.js';
import { shawlExecutable } from '../platform/service/shawl.js';
import { loadTemplates } from '../platform/service/templates.js';
import { resolveConfig } from '../config/resolve.js';
import { createLogger } from '../log.js';
import { sea } from '../packaging/runtime.js';
import { UsageError, type Command } from './args.js';
import { normalizeFingerprint } from '../link/fingerprint.js';

type Values = Record<string, string | boolean | string[] | undefined>;

const WHERE = { user: { type: 'boolean' }, root: { type: 'string' }, platform: { type: 'string' } } as const;

function layoutOf(v: Values): Layout {
  const platform = ((v.platform as string | undefined) ?? process.platform) as ServicePlatform;
  if (!['linux', 'darwin', 'win32'].includes(platform)) throw new UsageError('--platform is linux, darwin or win32');
  const user = v.user === true || (platform !== 'win32' && process.getuid?.() !== 0 && !v.root);
  return layout(platform, user, (v.home as string | undefined) ?? homedir(), process.env.ProgramData, process.env.ProgramFiles, process.env.LOCALAPPDATA);
}

async function enrol(L: Layout, v: Values): Promise<string> {
  const { values } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
  const stateDir = rooted(v.root as string | undefined, L.stateDir);
  const cfg: AgentConfig = { ...values, relay: v.relay as string, token: v.token as string, fingerprint: v.fingerprint as string | undefined, ca: v.ca as string | undefined, stateDir, hostname: (v.hostname as string | undefined) ?? values.hostname, logLevel: 'silent' };
  const agent = await Agent.start({ config: cfg, log: createLogger('silent', 'cmdop-agent'), local: false });
  try {
    await agent.online(20_000);
    return agent.identity.enrollment()?.machineId ?? '';
  } finally {
    await agent.stop();
  }
}

export const serviceCommands: Command[] = [
  {
    name: 'install',
    summary: 'enrol, write the config, copy the binary and register a systemd / launchd / Windows service',
    usage: 'cmdop-agent install [--relay URL --token JOIN_TOKEN --fingerprint SHA256] [--user] [--hostname H] [--labels k=v] [--root DIR] [--dry-run]',
    options: { ...WHERE, relay: { type: 'string' }, token: { type: 'string' }, fingerprint: { type: 'string' }, ca: { type: 'string' }, hostname: { type: 'string' }, labels: { type: 'string' }, 'dry-run': { type: 'boolean' }, home: { type: 'string' } },
    async run(v) {
      const L = layoutOf(v);
      if (v.token && !v.relay) throw new UsageError('--token needs --relay');
      const s = sea();
      const exec = s ? { binary: process.execPath } : { node: process.execPath, script: process.argv[1]! };
      const config: Record<string, unknown> = {};
      for (const k of ['relay', 'fingerprint', 'ca', 'hostname'] as const) if (v[k]) config[k] = v[k];
      if (v.labels) config.labels = Object.fromEntries((v.labels as string).split(',').map((kv) => kv.split('=') as [string, string]));
      if (v.fingerprint) config.fingerprint = normalizeFingerprint(v.fingerprint as string);
      const steps = installPlan({ layout: L, exec, config, templates: loadTemplates(), systemdVersion: systemdVersion(), shawl: L.platform === 'win32' ? shawlExecutable() : undefined });
      if (v['dry-run']) {
        process.stdout.write(`# cmdop-agent install (${L.platform}${L.user ? ', per user' : ''}): the plan\n${v.token ? `enrol with ${v.relay} using the join token (not written to disk)\n` : ''}${describePlan(steps)}\n`);
        return;
      }
      const root = v.root as string | undefined;
      if (v.token) process.stdout.write(`enrolled as machine ${await enrol(L, v)}\n`);
      const applied = applyPlan(steps, root);
      process.stdout.write(`installed ${L.serviceName} (${L.platform === 'linux' ? 'systemd' : L.platform === 'darwin' ? 'launchd' : 'Windows service'}): config ${L.configFile}${L.binPath && 'binary' in exec ? `, binary ${L.binPath}` : ''}\n`);
      if (root) process.stdout.write(`under ${root}: not run:\n${applied.commands.map((c) => `  ${c.join(' ')}`).join('\n')}\n`);
      else process.stdout.write('check it with: cmdop-agent status\n');
    },
  },
  {
    name: 'uninstall',
    summary: 'stop and remove the service and binary (with --purge, the config and state too)',
    usage: 'cmdop-agent uninstall [--purge] [--user] [--root DIR] [--dry-run]',
    options: { ...WHERE, purge: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, home: { type: 'string' } },
    async run(v) {
      const L = layoutOf(v);
      const steps = uninstallPlan(L, v.purge === true);
      if (v['dry-run']) return void process.stdout.write(`${describePlan(steps)}\n`);
      const applied = applyPlan(steps, v.root as string | undefined);
      process.stdout.write(`uninstalled ${L.serviceName}${v.purge ? ' (config and state removed)' : ` (kept ${L.configFile} and ${L.stateDir}; --purge removes them)`}\n`);
      if (v.root) process.stdout.write(`under ${v.root as string}: not run:\n${applied.commands.map((c) => `  ${c.join(' ')}`).join('\n')}\n`);
    },
  },
  ...(['start', 'stop', 'restart'] as const).map(
    (action): Command => ({
      name: action,
      summary: `${action} the installed service`,
      usage: `cmdop-agent ${action} [--user]`,
      options: { user: { type: 'boolean' } },
      async run(v) {
        const argv = controlArgv(layoutOf(v), action);
        const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit' });
        return r.status ?? 1;
      },
    }),
  ),
  {
    name: 'logs',
    summary: "the service's logs (journalctl, the launchd log file, or the Windows event log)",
    usage: 'cmdop-agent logs [-f] [--user]',
    options: { user: { type: 'boolean' }, follow: { type: 'boolean', short: 'f' } },
    async run(v) {
      const argv = controlArgv(layoutOf(v), 'logs', v.follow === true);
      return spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit' }).status ?? 1;
    },
  },
  {
    name: 'doctor',
    summary: 'check clock, DNS, TLS to the relay, proxy, permissions and pty support, and say what to fix',
    usage: `cmdop-agent doctor [--config FILE] [--check ${CHECKS.join('|')}] [--json]`,
    options: { config: { type: 'string' }, check: { type: 'string', multiple: true }, json: { type: 'boolean' }, 'state-dir': { type: 'string' }, user: { type: 'boolean' } },
    async run(v) {
      const only = v.check as string[] | undefined;
      for (const c of only ?? []) if (!(CHECKS as readonly string[]).includes(c)) throw new UsageError(`unknown check ${c} (${CHECKS.join(', ')})`);
      const { values: config, file } = loadAgentConfig({ stateDir: v['state-dir'] as string | undefined }, process.env, v.config as string | undefined);
      const checks = await runDoctor({ config, configFile: file, serviceFile: layoutOf(v).serviceFile }, only as CheckName[] | undefined);
      if (v.json) process.stdout.write(JSON.stringify(checks, null, 2) + '\n');
      else for (const c of checks) process.stdout.write(`${c.status.padEnd(5)} ${c.name.padEnd(12)} ${c.detail}${c.fix ? `\n${' '.repeat(19)}fix: ${c.fix}` : ''}\n`);
      return checks.some((c) => c.status === 'fail') ? 1 : 0;
    },
  },
];

/** The local systemd's version (0 if there is none). */
function systemdVersion(): number {
  const r = spawnSync('systemctl', ['--version'], { encoding: 'utf8' });
  return Number(/systemd (\d+)/.exec(r.stdout ?? '')?.[1] ?? 0);
}

/** The service's state line for `cmdop-agent status` (empty if the platform tool is missing). */
export function serviceState(v: Values): string {
  try {
    const argv = controlArgv(layoutOf(v), 'state');
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.error) return '';
    return (r.stdout || r.stderr).trim().split('\n')[0] ?? '';
  } catch {
    return '';
  }
}
