/**
 * `cmdop ask <machine> "prompt"`: streams the machine's AI answer. Prompts for the PIN without
 * echo when asked (or --pin-stdin / CMDOP_PIN), and shows each action that needs confirming for
 * y/N. With no terminal on stdin, every confirm is answered no and the refused action printed.
 */
import { readFileSync } from 'node:fs';
import { UsageError, type Command } from '../args.js';
import { askYesNo, readSecret, readStdinLine } from '../prompt.js';
import { AgentStreamError, type AgentType } from '../../client/ask.js';
import { PermissionError } from '../../errors.js';
import { CONNECT, connect } from './connect.js';

export const askCommand: Command = {
  name: 'ask',
  summary: "ask a machine's AI agent; it streams its answer and asks before anything dangerous",
  usage: 'cmdop ask <machine> "prompt" [--session S] [--type chat|command|terminal|planner|router] [--schema file.json] [--pin-stdin]',
  options: { ...CONNECT, session: { type: 'string' }, type: { type: 'string' }, schema: { type: 'string' }, 'pin-stdin': { type: 'boolean' }, json: { type: 'boolean' } },
  async run(v, pos) {
    const [machine, ...words] = pos;
    const prompt = words.join(' ');
    if (!machine || !prompt) throw new UsageError('usage: cmdop ask <machine> "prompt"');
    let outputSchema: Record<string, unknown> | undefined;
    if (v.schema) {
      try {
        outputSchema = JSON.parse(readFileSync(v.schema as string, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`--schema: ${(err as Error).message}`);
      }
    }
    let pin = process.env.CMDOP_PIN;
    if (v['pin-stdin']) pin = await readStdinLine();
    const tty = process.stdin.isTTY === true;
    const client = await connect(v);
    try {
      const s = client.machines.ask(machine, prompt, { ...(v.session ? { sessionId: v.session as string } : {}), ...(v.type ? { agentType: v.type as AgentType } : {}), ...(outputSchema ? { outputSchema } : {}) });
      let pinTries = 0;
      for await (const f of s) {
        switch (f.type) {
          case 'event':
            if (f.payload.delta) process.stdout.write(f.payload.delta);
            if (f.payload.toolCall) process.stderr.write(`\n[${f.payload.toolCall.name}] ${f.payload.toolCall.arguments}\n`);
            if (f.payload.toolResult?.refused) process.stderr.write(`[refused] ${f.payload.toolResult.output}\n`);
            break;
          case 'pin_required':
            if (pin !== undefined && pinTries++ === 0) await s.pin(f.challengeId, pin);
            else if (tty) await s.pin(f.challengeId, await readSecret(`PIN for ${machine}: `));
            else {
              await s.cancel();
              throw new UsageError(`${machine} asks for its PIN: set CMDOP_PIN, pass --pin-stdin, or run on a terminal`);
            }
            break;
          case 'pin_denied':
            process.stderr.write(`PIN rejected: ${f.reason}${f.retryAfterMs ? ` (retry in ${Math.ceil(f.retryAfterMs / 1000)} s)` : ''}\n`);
            if (!tty) {
              await s.cancel();
              throw new PermissionError(`PIN rejected: ${f.reason}`, { detail: 'pin_denied' });
            }
            break;
          case 'confirm_required': {
            process.stderr.write(`\n${f.severity === 'high' ? '!! HIGH RISK !! ' : ''}The agent wants to run:\n  ${f.action.split('\n').join('\n  ')}\nbecause: ${f.reason}\n`);
            const yes = tty ? await askYesNo('Allow?') : false;
            if (!tty) process.stderr.write('refused (no terminal to confirm on)\n');
            await s.confirm(f.token, yes);
            break;
          }
          case 'done':
            if (v.json) process.stdout.write(`\n${JSON.stringify({ text: f.text, output: f.output, usage: f.usage }, null, 2)}\n`);
            else if (f.output !== undefined) process.stdout.write(`\n${JSON.stringify(f.output, null, 2)}\n`);
            else if (!f.text.endsWith('\n')) process.stdout.write('\n');
            return 0;
          case 'error':
            throw f.error;
        }
      }
      throw new AgentStreamError('unavailable', 'the ask ended without an answer');
    } finally {
      await client.close();
    }
  },
};
