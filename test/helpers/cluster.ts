/**
 * A real relay and agents, in process, on loopback over TLS, port 0, in temp dirs. Nothing is
 * mocked: the same classes the binaries run.
 */
import { join } from 'node:path';
import { Relay, type RelayOptions } from '../../src/relay/relay.js';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { AGENT_SETTINGS, type AgentConfig } from '../../src/agent/config.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { Client } from '../../src/client/client.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from './tmp.js';

export interface Cluster {
  dir: string;
  relay: Relay;
  apiKey: string;
  startAgent(name: string, overrides?: Partial<AgentConfig>): Promise<Agent>;
  /** An agent enrolled with this join token (a fleet-bound one, say). */
  startAgentWithToken(name: string, token: string, overrides?: Partial<AgentConfig>, extra?: Partial<AgentOptions>): Promise<Agent>;
  /** Stops a started agent (its machine stays enrolled, offline). */
  stopAgent(name: string): Promise<void>;
  client(overrides?: Parameters<typeof Client.connect>[0]): Promise<Client>;
  joinToken(o?: { uses?: number | null; ttlMs?: number; fleet?: string; labels?: Record<string, string> }): Promise<string>;
  restartRelay(): Promise<void>;
  /** Starts the relay again (after relay.stop()) on this port, on the same data. */
  restartRelayOn(port: number): Promise<void>;
  close(): Promise<void>;
}

export function agentConfig(dir: string, name: string, relay: Pick<Relay, 'url' | 'fingerprint'>, token: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  const { values } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
  return {
    ...values,
    relay: relay.url,
    token,
    fingerprint: relay.fingerprint,
    stateDir: join(dir, name, 'state'),
    socket: join(dir, name, 'run', 'agent.sock'),
    hostname: name,
    logLevel: 'silent',
    ...overrides,
  };
}

export async function startCluster(relayOpts: Partial<RelayOptions> = {}): Promise<Cluster> {
  const { dir, cleanup } = tempDir();
  const log = silentLogger();
  const opts: RelayOptions = { dataDir: join(dir, 'relay'), port: 0, log, heartbeatMs: 1000, ...relayOpts };
  let relay = await Relay.start(opts);
  const apiKey = (await relay.state.issueKey({ name: 'test' })).secret;
  const agents: Agent[] = [];
  const named = new Map<string, Agent>();
  const clients: Client[] = [];
  const c: Cluster = {
    dir,
    relay,
    apiKey,
    joinToken: async (o = {}) => (await c.relay.state.tokens.issue(o)).secret,
    async startAgent(name, overrides = {}) {
      return c.startAgentWithToken(name, await c.joinToken(), overrides);
    },
    async startAgentWithToken(name, token, overrides = {}, extra = {}) {
      const agent = await Agent.start({ config: agentConfig(dir, name, c.relay, token, overrides), log, ...extra });
      agents.push(agent);
      named.set(name, agent);
      return agent;
    },
    async stopAgent(name) {
      await named.get(name)?.stop();
    },
    async client(overrides = {}) {
      const client = await Client.connect({ url: c.relay.url, token: apiKey, fingerprint: c.relay.fingerprint, timeoutMs: 5000, ...overrides });
      clients.push(client);
      return client;
    },
    async restartRelayOn(port) {
      await c.relay.stop();
      relay = await Relay.start({ ...opts, port });
      c.relay = relay;
    },
    async restartRelay() {
      const port = c.relay.port;
      await c.relay.stop();
      relay = await Relay.start({ ...opts, port });
      c.relay = relay;
    },
    async close() {
      await Promise.all(clients.map((x) => x.close()));
      await Promise.all(agents.map((a) => a.stop()));
      await c.relay.stop();
      cleanup();
    },
  };
  return c;
}
