/**
 * N real agents in one process (the whole Agent: services, exec, audit journal; no local socket),
 * all enrolled with one fleet-bound token. Prints {"online": n} as they come online.
 */
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { AGENT_SETTINGS, type AgentConfig } from '../../src/agent/config.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log.js';

const [url, fingerprint, token, stateRoot, countStr] = process.argv.slice(2);
const count = Number(countStr);
const { values } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
const agents: Agent[] = [];
let online = 0;
for (let i = 0; i < count; i++) {
  const dir = join(stateRoot!, `f${i}`);
  const config: AgentConfig = { ...values, relay: url!, fingerprint: fingerprint!, token: token!, stateDir: join(dir, 'state'), socket: join(dir, 'agent.sock'), hostname: `fleet-${i}`, logLevel: 'silent' };
  const agent = await Agent.start({ config, log: silentLogger(), local: false });
  agents.push(agent);
  agent.relay!.on('online', () => process.stdout.write(JSON.stringify({ online: ++online }) + '\n'));
}
process.on('SIGTERM', () => void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0)));
