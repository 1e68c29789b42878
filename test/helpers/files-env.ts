/** A relay process, an agent process and CLI env for the file command tests. */
import { join } from 'node:path';
import { agentProcess, relayProcess, run, type Proc } from './procs.js';

export interface FilesEnv {
  relay: Proc & { url: string; fingerprint: string; port: number };
  agent: Proc;
  env: () => NodeJS.ProcessEnv;
  key: string;
  restartRelay(): Promise<void>;
  close(): Promise<void>;
}

export async function filesEnv(dir: string, hostname: string): Promise<FilesEnv> {
  const relayDir = join(dir, 'relay');
  let relay = await relayProcess(relayDir);
  const key = (await run('cmdop-relay', ['keys', 'issue', '--name', 'files', '--data-dir', relayDir])).stdout.trim();
  const token = (await run('cmdop-relay', ['tokens', 'issue', '--ttl', '10m', '--data-dir', relayDir])).stdout.trim();
  const agent = await agentProcess(join(dir, 'agent'), relay, token, hostname);
  const e: FilesEnv = {
    relay,
    agent,
    key,
    env: () => ({ CMDOP_BASE_URL: e.relay.url, CMDOP_TOKEN: key, CMDOP_FINGERPRINT: e.relay.fingerprint, CMDOP_PROFILE: join(dir, 'no-profile.json') }),
    async restartRelay() {
      const seen = (agent.stderr() + agent.stdout()).split('"msg":"online"').length;
      await relay.kill('SIGKILL');
      relay = await relayProcess(relayDir, relay.port);
      e.relay = relay;
      // Wait for the agent to come back online (one more "online" line).
      await agent.waitFor(new RegExp(`(?:[\\s\\S]*"msg":"online"){${seen}}`), 30_000);
    },
    async close() {
      await agent.kill();
      await e.relay.kill();
    },
  };
  return e;
}
