/**
 * `npm run bench`: every figure side by side with its peer in the same run where there is one.
 * Ratios are what count; these machines are noisy. Writes bench-results/latest.json after every
 * group, so a group that fails or is skipped (its peer is not installed: one line says which)
 * never costs the figures of the others. Whatever a group started is stopped when it ends.
 * BENCH_SWARM sets the number of simulated agents (default 1000); BENCH_ONLY=name runs one group.
 */
import { join } from 'node:path';
import { report, type Figure } from './figures.js';
import { ROOT } from './procs.js';
import { MissingPeer, runGroupCleanups, stopStarted } from './peers.js';
import { foundationBench } from './foundation.js';
import { terminalBench } from './terminal.js';
import { tunnelBench } from './tunnel.js';
import { filesBench } from './files.js';
import { aiBench } from './ai.js';
import { binaryBench } from './binary.js';
import { controlBench } from './control.js';
import { sshBench } from './ssh.js';
import { schedulesBench } from './schedules.js';
import { relayNodesBench } from './relay-nodes.js';
import { consoleBench } from './console.js';
import { recordingsBench } from './recordings.js';

const groups: Record<string, () => Promise<Figure[]>> = {
  foundation: () => foundationBench(Number(process.env.BENCH_SWARM ?? 1000)),
  tunnel: () => tunnelBench(Number(process.env.BENCH_TUNNEL_MIB ?? 512)),
  ai: () => aiBench(),
  binary: () => binaryBench(),
  files: () => filesBench(Number(process.env.BENCH_FILE_MIB ?? 1024)),
  control: () => controlBench(Number(process.env.BENCH_FLEET ?? 200)),
  ssh: () => sshBench(Number(process.env.BENCH_SSH_MIB ?? 1024), Number(process.env.BENCH_KEYS ?? 1000)),
  schedules: () => schedulesBench(Number(process.env.BENCH_SCHED_RUNS ?? 1000)),
  'relay-nodes': () => relayNodesBench(Number(process.env.BENCH_NODES_AGENTS ?? 10000), Number(process.env.BENCH_NODES_MIB ?? 256)),
  console: () => consoleBench(Number(process.env.BENCH_CONSOLE_MIB ?? 64), Number(process.env.BENCH_KEYS ?? 1000)),
  recordings: () => recordingsBench(Number(process.env.BENCH_REC_MIB ?? 128), Number(process.env.BENCH_KEYS ?? 1000)),
  terminal: () => terminalBench(Number(process.env.BENCH_CAT_MIB ?? 256), Number(process.env.BENCH_KEYS ?? 1000)),
};

const only = process.env.BENCH_ONLY?.split(',');
const figures: Figure[] = [];
let failed = 0;
for (const [name, run] of Object.entries(groups)) {
  if (only && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}...\n`);
  try {
    figures.push(...(await run()));
  } catch (err) {
    if (err instanceof MissingPeer) process.stderr.write(`bench: skipped ${name}: ${err.message}\n`);
    else {
      failed++;
      process.stderr.write(`bench: ${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  } finally {
    runGroupCleanups();
    const left = await stopStarted();
    if (left > 0) process.stderr.write(`bench: stopped ${left} process(es) ${name} left running\n`);
  }
  report(figures, join(ROOT, 'bench-results'));
}
process.exitCode = failed > 0 ? 1 : 0;
