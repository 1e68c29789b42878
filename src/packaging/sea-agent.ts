/**
 * Entry of the cmdop-agent single executable. Sets the thread pool size, extracts the runtime
 * files, points node-pty, the grammar and the recording worker at them, and answers node-pty's Windows
 * console-list-agent fork (which runs this executable again with that script as argument)
 * before starting the real CLI.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';
import { VERSION } from '../version.js';
import { extractRuntime, runtimeRequire, sea } from './runtime.js';

const s = sea();
if (s) {
  const dir = extractRuntime(s, VERSION);
  process.env.CMDOP_GRAMMAR_DIR = `${dir}/grammar`;
  // Set, not defaulted: a worker file from a plain Node install must never run in the executable.
  process.env.CMDOP_RECORDING_WORKER = `${dir}/recording-worker.cjs`;
  const req = runtimeRequire(dir);
  (globalThis as { __cmdopRequire?: NodeJS.Require }).__cmdopRequire = req;
  const agentScript = process.argv.slice(1).find((a) => /conpty_console_list_agent(\.js)?$/.test(a));
  if (agentScript) {
    // node-pty forked its console-list agent: inside a SEA that fork is this executable.
    process.argv = [process.argv[0]!, agentScript, ...process.argv.slice(process.argv.indexOf(agentScript) + 1)];
    req('@lydell/node-pty/conpty_console_list_agent');
  } else {
    void import('../cli/agent-run.js').then(async (m) => (await m.entryFor(process.argv.slice(2))).main(process.argv.slice(2)));
  }
} else {
  void import('../cli/agent-run.js').then(async (m) => (await m.entryFor(process.argv.slice(2))).main(process.argv.slice(2)));
}
