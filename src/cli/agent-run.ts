/**
 * `cmdop-agent run`, on its own: what the service starts loads only the agent, not the client SDK
 * or the service installer (an idle agent's memory is a headline figure for edge devices).
 */
import { createLogger } from '../log.js';
import { Agent } from '../agent/agent.js';
import { AGENT_SETTINGS, loadAgentConfig } from '../agent/config.js';
import { VERSION } from '../version.js';
import { runProgram, type Command, type Options } from './args.js';
import { reduceHeap } from '../platform/heap.js';

/**
 * This long after start, one memory-reducing collection: start-up (module loading, the first
 * link, usually up within a second) leaves V8's young generation grown and garbage behind, which
 * V8 gives back by itself only when it judges the process idle (measured: 67.5 MB at 3 s, 60.9 MB
 * at 10 s on a quiet machine; 69.5 MB still at 20 s on a busy one).
 */
const COMPACT_AFTER_START_MS = 5000;

type Values = Record<string, string | boolean | string[] | undefined>;

/** Every agent setting is also a flag (see the configuration table in the README). */
const SETTING_FLAGS: Options = Object.fromEntries(AGENT_SETTINGS.map((s) => [s.flag.slice(2), { type: s.type === 'boolean' ? 'boolean' : 'string' }])) as Options;

export function flagsOf(v: Values): Record<string, string | boolean | undefined> {
  const out: Record<string, string | boolean | undefined> = {};
  for (const s of AGENT_SETTINGS) out[s.key] = v[s.flag.slice(2)] as string | boolean | undefined;
  return out;
}

/** Every setting as a flag, plus --config FILE: what commands that read the agent's config take. */
export const CONFIG_FLAGS: Options = { ...SETTING_FLAGS, config: { type: 'string' } };

export const runCommand: Command = {
    name: 'run',
    summary: 'run the agent in the foreground (what the service runs)',
    usage: 'cmdop-agent run [--relay wss://HOST:PORT] [--token JOIN_TOKEN] [--fingerprint SHA256] [--config FILE] ...',
    options: CONFIG_FLAGS,
    async run(v) {
      const { values: cfg, file } = loadAgentConfig(flagsOf(v), process.env, v.config as string | undefined);
      const log = createLogger(cfg.logLevel, 'cmdop-agent');
      const agent = await Agent.start({ config: cfg, log });
      log.info({ version: VERSION, config: file, relay: cfg.relay ?? null, socket: cfg.socket }, 'agent started');
      if (!cfg.relay) log.warn('no relay configured: serving the local socket only');
      setTimeout(() => void reduceHeap().catch((err: Error) => log.debug({ err: err.message }, 'heap compaction failed')), COMPACT_AFTER_START_MS).unref();
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      log.info('stopping');
      await agent.stop();
    },
  };

/** `cmdop-agent run ...` alone. */
export function main(argv: string[]): Promise<void> {
  return runProgram('cmdop-agent', [runCommand], argv, VERSION);
}

/** Which module serves these arguments: `run` gets the lean one. */
export function entryFor(argv: readonly string[]): Promise<{ main(argv: string[]): Promise<void> }> {
  return argv[0] === 'run' ? Promise.resolve({ main }) : import('./agent-main.js');
}
