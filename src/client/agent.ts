/**
 * `client.agent`: the AI agent of the machine chosen with `terminal.setMachine`, as one call.
 * @example
 * client.terminal.setMachine('web-1');
 * const { output } = await client.agent.run('Check server health', { outputSchema: healthSchema, pin: process.env.CMDOP_PIN });
 */
import type { AskOptions, AskResult } from './ask.js';
import type { Machines } from './machines.js';
import type { MachineTarget } from './target.js';

export class Agent {
  constructor(private readonly machines: Machines, private readonly machine: MachineTarget) {}

  /** Runs an ask to the end: `{ text, output, usage }`. PIN from the options or CMDOP_PIN; confirms need `onConfirm`. */
  run(prompt: string, o: AskOptions = {}): Promise<AskResult> {
    const pin = o.pin ?? process.env.CMDOP_PIN;
    return this.machines.ask(this.machine.get(), prompt, { agentType: 'terminal', ...o, ...(pin !== undefined ? { pin } : {}) }).result();
  }
}
