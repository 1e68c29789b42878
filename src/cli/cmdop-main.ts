/** `cmdop`: the client CLI. */
import { VERSION } from '../version.js';
import { runProgram } from './args.js';
import { machinesCommand } from './cmdop/machines.js';
import { execCommand } from './cmdop/exec.js';
import { shellCommand } from './cmdop/shell.js';
import { tunnelCommand } from './cmdop/tunnel.js';
import { sshCommand, sshConfigCommand, sshProxyCommand } from './cmdop/ssh.js';
import { infoCommand } from './cmdop/info.js';
import { uiCommand } from './cmdop/ui.js';
import { playCommand, recordingsCommand } from './cmdop/recordings.js';
import { spendCommand } from './cmdop/spend.js';
import { cpCommand } from './cmdop/cp.js';
import { askCommand } from './cmdop/ask.js';
import { keysCommands } from './cmdop/keys.js';
import { fleetsCommands } from './cmdop/fleets.js';
import { auditCommands } from './cmdop/audit.js';
import { schedulesCommands } from './cmdop/schedules.js';
import { catCommand, lsCommand, mkdirCommand, mvCommand, rmCommand, watchCommand } from './cmdop/files.js';

/** Runs `cmdop` with these arguments (the bin script and the single executable both call this). */
export function main(argv: string[]): Promise<void> {
  return runProgram('cmdop', [machinesCommand, infoCommand, spendCommand, execCommand, shellCommand, tunnelCommand, sshCommand, sshProxyCommand, sshConfigCommand, lsCommand, catCommand, cpCommand, rmCommand, mvCommand, mkdirCommand, watchCommand, askCommand, ...keysCommands, ...fleetsCommands, ...schedulesCommands, ...auditCommands, recordingsCommand, playCommand, uiCommand], argv, VERSION);
}
