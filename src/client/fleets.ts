/**
 * `client.fleets`: fleets, `fleets.machines` and `fleets.members`, as in the CMDOP SDK. Calls
 * that take a fleet use `CMDOP_FLEET_ID` when it is omitted (''). Lists have iter() and pages().
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { ValidationError } from '../errors.js';
import type { FleetRole } from '../control/capabilities.js';
import type { Caller } from './caller.js';
import { toMachine, type ListMachinesOptions, type Machine, type Page } from './machines.js';
import { paging } from './paging.js';
import { fanoutExec, fanoutWrite, type FanoutOptions, type FanoutResult, type FanoutWriteOptions } from './fanout.js';

const v1 = cmdop.v1;

export interface Fleet {
  id: string;
  name: string;
  description: string;
  selector: string;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  machineCount: number;
}

export interface FleetMember {
  fleetId: string;
  keyId: string;
  keyName: string;
  role: FleetRole;
  addedAt: Date;
}

const toFleet = (f: cmdop.v1.IFleet): Fleet => ({ id: f.id ?? '', name: f.name ?? '', description: f.description ?? '', selector: f.selector ?? '', disabled: !!f.disabled, createdAt: new Date(Number(f.createdMs)), updatedAt: new Date(Number(f.updatedMs)), machineCount: f.machineCount ?? 0 });
const toMember = (m: cmdop.v1.IMember): FleetMember => ({ fleetId: m.fleetId ?? '', keyId: m.keyId ?? '', keyName: m.keyName ?? '', role: (m.role ?? 'viewer') as FleetRole, addedAt: new Date(Number(m.addedMs)) });

export class Fleets {
  readonly machines: FleetMachines;
  readonly members: FleetMembers;

  constructor(private readonly caller: Caller, private readonly env: NodeJS.ProcessEnv = process.env) {
    const fleetOf = (f: string) => this.ref(f);
    this.machines = new FleetMachines(caller, fleetOf);
    this.members = new FleetMembers(caller, fleetOf);
  }

  /** The fleet named, else CMDOP_FLEET_ID. */
  ref(fleet: string | undefined): string {
    const f = fleet || this.env.CMDOP_FLEET_ID || '';
    if (!f) throw new ValidationError('name a fleet (or set CMDOP_FLEET_ID)');
    return f;
  }

  private async call(method: string, req: Uint8Array): Promise<Uint8Array> {
    return this.caller.unary('', 'fleets', method, req);
  }

  async list(o: { limit?: number; cursor?: string } = {}): Promise<Page<Fleet>> {
    const r = v1.ListFleetsResponse.decode(await this.call('list', v1.ListPageRequest.encode({ limit: o.limit ?? 0, cursor: o.cursor ?? '' }).finish()));
    return { items: r.fleets.map(toFleet), nextCursor: r.nextCursor || null };
  }

  iter(o: { limit?: number } = {}): AsyncGenerator<Fleet> {
    return paging((x: { limit?: number; cursor?: string }) => this.list(x)).iter(o);
  }

  pages(o: { limit?: number } = {}): AsyncGenerator<Fleet[]> {
    return paging((x: { limit?: number; cursor?: string }) => this.list(x)).pages(o);
  }

  async get(fleet?: string): Promise<Fleet> {
    return toFleet(v1.Fleet.decode(await this.call('get', v1.FleetRef.encode({ fleet: this.ref(fleet) }).finish())));
  }

  /**
   * @example
   * const edge = await client.fleets.create('edge', { selector: 'env=prod,role!=db' });
   */
  async create(name: string, o: { description?: string; selector?: string } = {}): Promise<Fleet> {
    return toFleet(v1.Fleet.decode(await this.call('create', v1.CreateFleetRequest.encode({ name, description: o.description ?? '', selector: o.selector ?? '' }).finish())));
  }

  async update(fleet: string, o: { name?: string; description?: string; selector?: string }): Promise<Fleet> {
    const req = v1.UpdateFleetRequest.encode({ fleet: this.ref(fleet), name: o.name ?? '', description: o.description ?? '', selector: o.selector ?? '', setDescription: o.description !== undefined, setSelector: o.selector !== undefined }).finish();
    return toFleet(v1.Fleet.decode(await this.call('update', req)));
  }

  /** Disables a fleet: its grants and memberships stop applying, and fan-out refuses it. */
  async disable(fleet?: string): Promise<Fleet> {
    return toFleet(v1.Fleet.decode(await this.call('disable', v1.SetFleetDisabledRequest.encode({ fleet: this.ref(fleet), disabled: true }).finish())));
  }

  async enable(fleet?: string): Promise<Fleet> {
    return toFleet(v1.Fleet.decode(await this.call('disable', v1.SetFleetDisabledRequest.encode({ fleet: this.ref(fleet), disabled: false }).finish())));
  }

  /**
   * Runs a command on every machine of the fleet, at most `parallel` at once; each whole output
   * line goes to `onLine` as it comes. Resolves with one result per machine (never rejects for
   * one machine's failure).
   * @example
   * const r = await client.fleets.exec('edge', 'systemctl restart app', { parallel: 50, timeoutMs: 30_000, onLine: (m, l) => console.log(`${m.hostname}: ${l}`) });
   */
  async exec(fleet: string | undefined, command: string, o: FanoutOptions = {}): Promise<FanoutResult[]> {
    const f = await this.get(fleet);
    if (f.disabled) throw new ValidationError(`fleet ${f.name} is disabled`, { detail: 'fleet_disabled' });
    const machines: Machine[] = [];
    for await (const m of this.machines.iter(f.id)) machines.push(m);
    return fanoutExec(this.caller, machines, command, o);
  }

  /** Writes one file to every machine of the fleet, the same way. */
  async write(fleet: string | undefined, path: string, data: Uint8Array, o: FanoutWriteOptions = {}): Promise<FanoutResult[]> {
    const f = await this.get(fleet);
    if (f.disabled) throw new ValidationError(`fleet ${f.name} is disabled`, { detail: 'fleet_disabled' });
    const machines: Machine[] = [];
    for await (const m of this.machines.iter(f.id)) machines.push(m);
    return fanoutWrite(this.caller, machines, path, data, o);
  }
}

export class FleetMachines {
  constructor(private readonly caller: Caller, private readonly ref: (f: string) => string) {}

  async list(fleet: string, o: ListMachinesOptions = {}): Promise<Page<Machine>> {
    const req = v1.FleetMachinesRequest.encode({
      fleet: this.ref(fleet),
      presence: o.presence === 'online' ? v1.Presence.ONLINE : o.presence === 'offline' ? v1.Presence.OFFLINE : 0,
      limit: o.limit ?? 0,
      cursor: o.cursor ?? '',
    }).finish();
    const r = v1.ListMachinesResponse.decode(await this.caller.unary('', 'fleets', 'machines.list', req));
    return { items: r.machines.map(toMachine), nextCursor: r.nextCursor || null };
  }

  iter(fleet: string, o: Omit<ListMachinesOptions, 'cursor'> = {}): AsyncGenerator<Machine> {
    return paging((x: ListMachinesOptions) => this.list(fleet, x)).iter(o);
  }

  pages(fleet: string, o: Omit<ListMachinesOptions, 'cursor'> = {}): AsyncGenerator<Machine[]> {
    return paging((x: ListMachinesOptions) => this.list(fleet, x)).pages(o);
  }

  async attach(fleet: string, machine: string): Promise<Machine> {
    return toMachine(v1.Machine.decode(await this.caller.unary('', 'fleets', 'machines.attach', v1.FleetMachineRequest.encode({ fleet: this.ref(fleet), machine }).finish())));
  }

  async detach(fleet: string, machine: string): Promise<Machine> {
    return toMachine(v1.Machine.decode(await this.caller.unary('', 'fleets', 'machines.detach', v1.FleetMachineRequest.encode({ fleet: this.ref(fleet), machine }).finish())));
  }
}

export class FleetMembers {
  constructor(private readonly caller: Caller, private readonly ref: (f: string) => string) {}

  async list(fleet: string, o: { limit?: number; cursor?: string } = {}): Promise<Page<FleetMember>> {
    const r = v1.ListMembersResponse.decode(await this.caller.unary('', 'fleets', 'members.list', v1.ListMembersRequest.encode({ fleet: this.ref(fleet), limit: o.limit ?? 0, cursor: o.cursor ?? '' }).finish()));
    return { items: r.members.map(toMember), nextCursor: r.nextCursor || null };
  }

  iter(fleet: string, o: { limit?: number } = {}): AsyncGenerator<FleetMember> {
    return paging((x: { limit?: number; cursor?: string }) => this.list(fleet, x)).iter(o);
  }

  pages(fleet: string, o: { limit?: number } = {}): AsyncGenerator<FleetMember[]> {
    return paging((x: { limit?: number; cursor?: string }) => this.list(fleet, x)).pages(o);
  }

  private async set(method: string, fleet: string, keyId: string, role: FleetRole | ''): Promise<FleetMember> {
    return toMember(v1.Member.decode(await this.caller.unary('', 'fleets', method, v1.MemberRequest.encode({ fleet: this.ref(fleet), keyId, role }).finish())));
  }

  add(fleet: string, keyId: string, role: FleetRole = 'viewer'): Promise<FleetMember> {
    return this.set('members.add', fleet, keyId, role);
  }

  set_role(fleet: string, keyId: string, role: FleetRole): Promise<FleetMember> {
    return this.set('members.set_role', fleet, keyId, role);
  }

  /** camelCase alias of set_role. */
  setRole(fleet: string, keyId: string, role: FleetRole): Promise<FleetMember> {
    return this.set_role(fleet, keyId, role);
  }

  async remove(fleet: string, keyId: string): Promise<void> {
    await this.caller.unary('', 'fleets', 'members.remove', v1.MemberRequest.encode({ fleet: this.ref(fleet), keyId, role: '' }).finish());
  }
}
