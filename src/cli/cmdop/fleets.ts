/** `cmdop fleets ...`: fleets, their machines and members, each with --json. */
import { printJson, table, UsageError, type Command, type Options } from '../args.js';
import type { Fleet } from '../../client/fleets.js';
import { parseRole } from '../../control/capabilities.js';
import { CONNECT, withClient, type Values } from './connect.js';

const J: Options = { ...CONNECT, json: { type: 'boolean' } };
const fleetRow = (f: Fleet) => [f.name, f.id, f.disabled ? 'disabled' : 'active', String(f.machineCount), f.selector || '-'];

function printFleet(v: Values, f: Fleet): void {
  if (v.json) return printJson(f);
  process.stdout.write(table([['NAME', 'ID', 'STATE', 'MACHINES', 'SELECTOR'], fleetRow(f)]));
}

/** The fleet argument, or CMDOP_FLEET_ID. */
function fleetArg(pos: string[], i = 0): string {
  const f = pos[i] || process.env.CMDOP_FLEET_ID;
  if (!f) throw new UsageError('name a fleet (or set CMDOP_FLEET_ID)');
  return f;
}

export const fleetsCommands: Command[] = [
  {
    name: 'fleets list',
    summary: 'list the fleets this key can see',
    usage: 'cmdop fleets list [--json]',
    options: J,
    run: (v) =>
      withClient(v, async (c) => {
        const all: Fleet[] = [];
        for await (const f of c.fleets.iter()) all.push(f);
        if (v.json) return printJson(all);
        process.stdout.write(table([['NAME', 'ID', 'STATE', 'MACHINES', 'SELECTOR'], ...all.map(fleetRow)]));
      }),
  },
  {
    name: 'fleets get',
    summary: 'show a fleet and its machines',
    usage: 'cmdop fleets get NAME [--json]',
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        const f = await c.fleets.get(fleetArg(pos));
        const machines = [];
        for await (const m of c.fleets.machines.iter(f.id)) machines.push(m);
        if (v.json) return printJson({ ...f, machines: machines.map((m) => ({ id: m.id, hostname: m.hostname, presence: m.presence, labels: m.labels })) });
        printFleet(v, f);
        if (machines.length) process.stdout.write('\n' + table([['HOSTNAME', 'ID', 'PRESENCE'], ...machines.map((m) => [m.hostname, m.id, m.presence])]));
      }),
  },
  {
    name: 'fleets create',
    summary: 'create a fleet (machines whose labels match --selector join on their own)',
    usage: 'cmdop fleets create NAME [--selector env=prod] [--description TEXT] [--json]',
    options: { ...J, selector: { type: 'string' }, description: { type: 'string' } },
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 1) throw new UsageError('fleets create takes one name');
        printFleet(v, await c.fleets.create(pos[0]!, { selector: v.selector as string | undefined, description: v.description as string | undefined }));
      }),
  },
  {
    name: 'fleets update',
    summary: "change a fleet's name, selector or description",
    usage: 'cmdop fleets update NAME [--name NEW] [--selector k=v] [--description TEXT] [--json]',
    options: { ...J, name: { type: 'string' }, selector: { type: 'string' }, description: { type: 'string' } },
    run: (v, pos) =>
      withClient(v, async (c) => {
        printFleet(v, await c.fleets.update(fleetArg(pos), { name: v.name as string | undefined, selector: v.selector as string | undefined, description: v.description as string | undefined }));
      }),
  },
  {
    name: 'fleets disable',
    summary: 'disable a fleet (its grants stop applying; --enable turns it back on)',
    usage: 'cmdop fleets disable NAME [--enable] [--json]',
    options: { ...J, enable: { type: 'boolean' } },
    run: (v, pos) => withClient(v, async (c) => printFleet(v, v.enable ? await c.fleets.enable(fleetArg(pos)) : await c.fleets.disable(fleetArg(pos)))),
  },
  attachCommand('attach'),
  attachCommand('detach'),
  {
    name: 'fleets members',
    summary: "list a fleet's members (keys and their roles)",
    usage: 'cmdop fleets members FLEET [--json]',
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        const all = [];
        for await (const m of c.fleets.members.iter(fleetArg(pos))) all.push(m);
        if (v.json) return printJson(all);
        process.stdout.write(table([['KEY', 'NAME', 'ROLE', 'ADDED'], ...all.map((m) => [m.keyId, m.keyName, m.role, m.addedAt.toISOString()])]));
      }),
  },
  memberCommand('add'),
  memberCommand('set-role'),
  {
    name: 'fleets members remove',
    summary: 'remove a key from a fleet',
    usage: 'cmdop fleets members remove FLEET KEY_ID',
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 2) throw new UsageError('members remove takes a fleet and a key id');
        await c.fleets.members.remove(pos[0]!, pos[1]!);
        if (v.json) return printJson({ fleet: pos[0], key: pos[1], removed: true });
        process.stdout.write(`key ${pos[1]} removed from ${pos[0]}\n`);
      }),
  },
];

/** `fleets attach|detach FLEET MACHINE`. */
function attachCommand(verb: 'attach' | 'detach'): Command {
  return {
    name: `fleets ${verb}`,
    summary: `${verb} a machine ${verb === 'attach' ? 'to' : 'from'} a fleet`,
    usage: `cmdop fleets ${verb} FLEET MACHINE [--json]`,
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 2) throw new UsageError(`fleets ${verb} takes a fleet and a machine`);
        const m = await c.fleets.machines[verb](pos[0]!, pos[1]!);
        if (v.json) return printJson({ fleet: pos[0], machine: m.id, hostname: m.hostname, attached: verb === 'attach' });
        process.stdout.write(`${m.hostname} ${verb}ed ${verb === 'attach' ? 'to' : 'from'} ${pos[0]}\n`);
      }),
  };
}

/** `fleets members add|set-role FLEET KEY_ID --role ROLE`. */
function memberCommand(verb: 'add' | 'set-role'): Command {
  return {
    name: `fleets members ${verb}`,
    summary: verb === 'add' ? 'make a key a member of a fleet (viewer, operator or admin)' : "change a member's role",
    usage: `cmdop fleets members ${verb} FLEET KEY_ID ${verb === 'add' ? '[--role viewer|operator|admin]' : '--role ROLE'} [--json]`,
    options: { ...J, role: { type: 'string' } },
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 2 || (verb === 'set-role' && !v.role)) throw new UsageError(`members ${verb} takes a fleet, a key id${verb === 'set-role' ? ' and --role' : ''}`);
        const role = parseRole((v.role as string | undefined) ?? 'viewer');
        const m = verb === 'add' ? await c.fleets.members.add(pos[0]!, pos[1]!, role) : await c.fleets.members.set_role(pos[0]!, pos[1]!, role);
        if (v.json) return printJson(m);
        process.stdout.write(`key ${m.keyId} is ${m.role} of ${pos[0]}\n`);
      }),
  };
}
