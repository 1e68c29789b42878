/**
 * Many simulated agents in one process: each is the real RelayLink (dial, TLS pin, Ed25519 proof,
 * heartbeat, backoff) with its own identity, only without a local socket or capabilities.
 * Prints JSON lines: {"online": n} as agents come online, so the parent can time them.
 *
 * The agents' state (identity keys, enrolments) goes on tmpfs (/dev/shm) where there is one: each
 * real agent syncs its two small files on its own disk, in parallel with every other host; one
 * process syncing ten thousand of them in a row (~1.3 ms each here) would time the simulator, not
 * the relay. Measured at 3,000 agents: 16 s of the simulator's 120 s was those fsyncs.
 *
 * Each agent dials from its own loopback address (127.x.y.z, all on lo), as a real fleet's hosts
 * each have their own: from one address, the relay's per-address handshake bound (64) would be
 * what the herd measures. BENCH_SWARM_ONE_ADDRESS=1 dials all from 127.0.0.1 instead.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RelayLink } from '../../src/agent/link/relay-link.js';
import { Identity } from '../../src/agent/identity.js';
import { silentLogger } from '../../src/log.js';
import { UnavailableError } from '../../src/errors.js';
import { swarmStateDir } from './swarm-state.js';

const [url, fingerprint, token, givenRoot, countStr] = process.argv.slice(2);
const stateRoot = swarmStateDir(givenRoot!);
if (stateRoot !== givenRoot) process.on('exit', () => rmSync(stateRoot, { recursive: true, force: true }));
const count = Number(countStr);
const log = silentLogger();
let online = 0;
const links: RelayLink[] = [];
const base = 1 + (process.pid % 250);
const addressOf = (i: number) => (process.env.BENCH_SWARM_ONE_ADDRESS ? undefined : `127.${base}.${(i >> 8) & 255}.${i & 255}`);
for (let i = 0; i < count; i++) {
  const link = new RelayLink({
    url: url!,
    fingerprint,
    identity: Identity.loadOrCreate(join(stateRoot, `a${i}`)),
    joinToken: token,
    hostname: `sim-${i}`,
    labels: {},
    localAddress: addressOf(i),
    log,
    onStream: (s) => s.abort(new UnavailableError('simulated agents serve nothing')),
  });
  link.on('online', () => {
    online++;
    process.stdout.write(JSON.stringify({ online }) + '\n');
    if (online === count && process.env.BENCH_SWARM_DEBUG) {
      const errors = new Map<string, number>();
      for (const l of links) {
        const e = l.status().lastError.replace(/\d{2,}/g, 'N');
        if (e) errors.set(e, (errors.get(e) ?? 0) + 1);
      }
      process.stderr.write(JSON.stringify({ reconnects: links.reduce((n, l) => n + l.status().reconnects, 0), errors: [...errors] }) + '\n');
    }
  });
  link.on('offline', () => {
    online--;
    process.stdout.write(JSON.stringify({ online }) + '\n');
  });
  links.push(link);
  link.start();
}
process.on('SIGTERM', () => {
  void Promise.all(links.map((l) => l.stop())).then(() => process.exit(0));
});
