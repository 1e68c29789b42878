/**
 * The machine that `client.terminal` and `client.files` talk to. One per client, shared, so that
 * `terminal.setMachine('web-1')` routes the file calls there too (as CMDOP SDK users expect).
 */
import { ValidationError } from '../errors.js';

export class MachineTarget {
  private machine = '';

  /** `local`: connected to an agent's own socket, where '' means that agent. */
  constructor(private readonly local: boolean) {}

  set(m: string | { machineId: string }): void {
    this.machine = typeof m === 'string' ? m : m.machineId;
  }

  get(): string {
    if (!this.machine && !this.local) throw new ValidationError('choose a machine first: client.terminal.setMachine(hostname)');
    return this.machine;
  }
}
