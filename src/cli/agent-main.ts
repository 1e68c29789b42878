/** `cmdop-agent`: run the agent daemon, and ask a running one how it is. */
import { cmdop } from '../protocol/gen/cmdop.js';
import { plain } from '../protocol/plain.js';
import { createLogger } from '../log.js';
import { loadAgentConfig, type AgentConfig } from '../agent/config.js';
import { CONFIG_FLAGS, flagsOf, runCommand } from './agent-run.js';
import { verifyAgentAuditFile } from '../agent/audit/verify-file.js';
import { printVerdict } from './verdict.js';
import { Identity } from '../agent/identity.js';
import { VERSION } from '../version.js';
import { ago, printJson, runProgram, type Command, type Options } from './args.js';
import { readSecret, readStdinLine } from './prompt.js';
import { serviceCommands, serviceState } from './agent-service.js';
import { PinGate } from '../agent/ai/pin.js';
import { ValidationError } from '../errors.js';
import { mkdirSync } from 'node:fs';

type Values = Record<string, string | boolean | string[] | undefined>;

/** The agent's settings from flags, environment and the config file. */
function configOf(v: Values): AgentConfig {
  return loadAgentConfig(flagsOf(v), process.env, v.config as string | undefined).values;
}

const commands: Command[] = [
  runCommand,
  {
    name: 'status',
    summary: "the running agent's link state, relay, last error and heartbeat",
    usage: 'cmdop-agent status [--json]',
    options: { json: { type: 'boolean' }, info: { type: 'string' }, user: { type: 'boolean' } },
    async run(v) {
      const service = v.json ? '' : serviceState(v);
      if (service) process.stdout.write(`${'service'.padEnd(15)} ${service}\n`);
      const { Client } = await import('../client/client.js');
      const client = await Client.local(v.info ? { infoPaths: [v.info as string] } : {});
      try {
        const s = cmdop.v1.AgentStatus.decode(await client.call('', 'agent', 'status', cmdop.v1.Empty.encode({}).finish()));
        if (v.json) return printJson(plain(s));
        const since = (ms: number) => (ms ? ago(new Date(ms)) : 'never');
        const lines = [
          ['version', s.version],
          ['hostname', s.hostname],
          ['machine id', s.machineId || '(not enrolled)'],
          ['link', s.linkState + (s.linkState === 'online' ? ` since ${since(s.onlineSinceMs)}` : '')],
          ['relay', s.relayUrl || '(none configured)'],
          ['last heartbeat', since(s.lastHeartbeatMs)],
          ['last error', s.lastError ? `${s.lastError} (${since(s.lastErrorMs)})` : 'none'],
          ['reconnects', String(s.reconnects)],
          ['streams', String(s.activeStreams)],
          ['schedules', `${s.schedules} held, ${s.runsPending} run record(s) waiting for the relay`],
          ['pid / rss', `${s.pid} / ${(s.rssBytes / 1048576).toFixed(1)} MiB`],
        ];
        process.stdout.write(lines.map(([k, val]) => `${k!.padEnd(15)} ${val}`).join('\n') + '\n');
        return s.linkState === 'online' || !s.relayUrl ? 0 : 1;
      } finally {
        await client.close();
      }
    },
  },
  ...serviceCommands,
  {
    name: 'pin set',
    summary: "set the machine's connect PIN for AI asks (read without echo, or from stdin when piped)",
    usage: 'cmdop-agent pin set [--state-dir DIR] [--config FILE]',
    options: CONFIG_FLAGS,
    async run(v) {
      const cfg = configOf(v);
      let pin: string;
      if (process.stdin.isTTY) {
        pin = await readSecret('New PIN: ');
        if ((await readSecret('Again: ')) !== pin) throw new ValidationError('the two PINs differ');
      } else pin = await readStdinLine();
      mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
      await new PinGate(cfg.stateDir, cfg.pinVerifySec * 1000).set(pin, cfg.pinMinLength);
      process.stdout.write('PIN set (stored as a salted scrypt hash); failures and lockout reset\n');
    },
  },
  {
    name: 'pin unlock',
    summary: 'clear the PIN lockout after too many wrong PINs',
    usage: 'cmdop-agent pin unlock [--state-dir DIR] [--config FILE]',
    options: CONFIG_FLAGS,
    async run(v) {
      new PinGate(configOf(v).stateDir, 0).unlock();
      process.stdout.write('PIN unlocked\n');
    },
  },
  {
    name: 'pin status',
    summary: 'whether a PIN is set, and the failure count and lockout',
    usage: 'cmdop-agent pin status [--state-dir DIR] [--config FILE]',
    options: CONFIG_FLAGS,
    async run(v) {
      const cfg = configOf(v);
      const g = new PinGate(cfg.stateDir, 0);
      process.stdout.write(`pin ${cfg.pin === 'off' ? 'off (asks need no PIN)' : g.configured ? 'set' : 'not set (asks are refused)'}\nfailures ${g.failures}\nlocked ${g.locked ? 'yes, for every caller: run cmdop-agent pin unlock' : g.lockedKeys.length ? `for ${g.lockedKeys.length} key(s) (${g.lockedKeys.join(', ')}): run cmdop-agent pin unlock` : 'no'}\n`);
    },
  },
  {
    name: 'audit verify',
    summary: "check this host's audit file: every record's hash, signature and order",
    usage: 'cmdop-agent audit verify [--state-dir DIR] [--config FILE] [--json]',
    options: { ...CONFIG_FLAGS, json: { type: 'boolean' } },
    async run(v) {
      const cfg = configOf(v);
      const r = verifyAgentAuditFile(cfg.stateDir, Identity.loadOrCreate(cfg.stateDir).publicKeyDer);
      return printVerdict(r, !!v.json);
    },
  },
];

/** Runs `cmdop-agent` with these arguments (the bin script and the single executable both call this). */
export function main(argv: string[]): Promise<void> {
  return runProgram('cmdop-agent', commands, argv, VERSION);
}
