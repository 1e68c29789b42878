#!/usr/bin/env node
/**
 * `npm start`: an embedded relay on 127.0.0.1 and this host's agent in one process, for trying
 * cmdop on one machine. Prints the client settings and saves them as the default profile, so
 * `npx cmdop machines` in another shell works with no flags. State lives in a dev data dir
 * (CMDOP_DEV_DIR, default ~/.cmdop/dev), so the next start reuses the certificate, key and
 * enrolment.
 */
import './threadpool.js';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log.js';
import { Relay } from '../relay/relay.js';
import { Agent } from '../agent/agent.js';
import { AGENT_SETTINGS, type AgentConfig } from '../agent/config.js';
import { resolveConfig } from '../config/resolve.js';
import { profilePath, readProfile, writeProfile } from '../client/options.js';
import { describeError } from './args.js';

/** Fixed so the saved profile stays valid across restarts; override with CMDOP_DEV_PORT. */
const DEV_PORT = 7443;

async function main(): Promise<void> {
  const dir = process.env.CMDOP_DEV_DIR ?? join(homedir(), '.cmdop', 'dev');
  const port = process.env.CMDOP_DEV_PORT ? Number(process.env.CMDOP_DEV_PORT) : DEV_PORT;
  const log = createLogger(process.env.CMDOP_LOG_LEVEL ?? 'warn', 'cmdop-dev');
  const relay = await Relay.start({ dataDir: join(dir, 'relay'), host: '127.0.0.1', port, log });

  // Reuse the saved key while it still works; otherwise issue a new one.
  const profileFile = profilePath();
  let token = readProfile(profileFile)?.token;
  try {
    if (token) relay.state.verifyKey(token);
  } catch {
    token = undefined;
  }
  token ??= (await relay.state.issueKey({ name: 'npm start' })).secret;
  writeProfile({ url: relay.url, token, fingerprint: relay.fingerprint }, profileFile);

  const { values: defaults } = resolveConfig<AgentConfig>(AGENT_SETTINGS, {}, {}, {});
  const config: AgentConfig = {
    ...defaults,
    relay: relay.url,
    fingerprint: relay.fingerprint,
    token: (await relay.state.tokens.issue({ ttlMs: 60_000 })).secret,
    stateDir: join(dir, 'agent'),
    hostname: hostname(),
  };
  const agent = await Agent.start({ config, log });
  await agent.online(15_000);

  process.stdout.write(
    [
      `cmdop dev: relay and agent running; this host (${hostname()}) is online.`,
      `CMDOP_BASE_URL=${relay.url}`,
      `CMDOP_TOKEN=${token}`,
      `CMDOP_FINGERPRINT=${relay.fingerprint}`,
      `saved as the default client profile: ${profileFile}`,
      'try in another shell: npx cmdop machines',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await agent.stop();
  await relay.stop();
}

main().catch((err) => {
  process.stderr.write(`cmdop dev: ${describeError(err)}\n`);
  process.exitCode = 1;
});
