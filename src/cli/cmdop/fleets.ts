/** `cmdop fleets ...`: fleets, their machines and members, each with --json. */
import { printJson, table, UsageError, type Command, type Options } from '../args.js';
import type { Client } from '../../client/client.js';
import type { Fleet } from '../../client/fleets.js';
import { parseRole } from '../../control/capabilities.js';
import { CONNECT, connect, type Values } from './connect.js';

const J: Options = { ...CONNECT, json: { type: 'boolean' } };
const fleetRow = (f: Fleet) => [f.name, f.id, f.disabled ? 'disabled' : 'active', String(f.machineCount), f.selector || '-'];

async function withClient<T>(v: Values, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await connect(v);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

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
  {
    name: 'fleets attach',
    summary: 'attach a machine to a fleet',
    usage: 'cmdop fleets attach FLEET MACHINE [--json]',
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 2) throw new UsageError('fleets attach takes a fleet and a machine');
        const m = await c.fleets.machines.attach(pos[0]!, pos[1]!);
        if (v.json) return printJson({ fleet: pos[0], machine: m.id, hostname: m.hostname, attached: true });
        process.stdout.write(`${m.hostname} attached to ${pos[0]}\n`);
      }),
  },
  {
    name: 'fleets detach',
    summary: 'detach a machine from a fleet',
    usage: 'cmdop fleets detach FLEET MACHINE [--json]',
    options: J,
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 2) throw new UsageError('fleets detach takes a fleet and a machine');
        const m = await c.fleets.machines.detach(pos[0]!, pos[1]!);
        if (v.json) return printJson({ fleet: pos[0], machine: m.id, hostname: m.hostname, attached: false });
        process.stdout.write(`${m.hostname} detached from ${pos[0]}\n`);
      }),
  },
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
  {
    name: 'fleets members add',
    summary: 'make a key a member of a fleet (viewer, operator or admin)',
    usage: 'cmdop fleets members add FLEET KEY_ID [--role viewer|operator|admin] [--json]',
    options: { ...J, role: { type: 'string' } },
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 2) throw new UsageError('members add takes a fleet and a key id');
        const m = await c.fleets.members.add(pos[0]!, pos[1]!, parseRole((v.role as string | undefined) ?? 'viewer'));
        if (v.json) return printJson(m);
        process.stdout.write(`key ${m.keyId} is ${m.role} of ${pos[0]}\n`);
      }),
  },
  {
    name: 'fleets members set-role',
    summary: "change a member's role",
    usage: 'cmdop fleets members set-role FLEET KEY_ID --role ROLE [--json]',
    options: { ...J, role: { type: 'string' } },
    run: (v, pos) =>
      withClient(v, async (c) => {
        if (pos.length !== 2 || !v.role) throw new UsageError('members set-role takes a fleet, a key id and --role');
        const m = await c.fleets.members.set_role(pos[0]!, pos[1]!, parseRole(v.role as string));
        if (v.json) return printJson(m);
        process.stdout.write(`key ${m.keyId} is ${m.role} of ${pos[0]}\n`);
      }),
  },
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
