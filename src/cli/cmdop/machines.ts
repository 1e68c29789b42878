/** `cmdop machines`: the machines and their presence. */
import type { Machine } from '../../client/machines.js';
import { ago, printJson, table, UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';

function machineRow(m: Machine): string[] {
  const s = m.summary;
  const mem = s && s.memTotal ? `${Math.round((100 * s.memUsed) / s.memTotal)}%` : '-';
  const disk = s && s.diskTotal ? `${Math.round((100 * s.diskUsed) / s.diskTotal)}%` : '-';
  return [m.hostname, m.id, m.presence, m.presence === 'online' ? 'now' : ago(m.lastSeen), s ? s.load1.toFixed(2) : '-', mem, disk, m.agentVersion.replace('cmdop-agent/', '')];
}

export const machinesCommand: Command = {
  name: 'machines',
  summary: 'list machines and their presence',
  usage: 'cmdop machines [--presence online|offline] [--json]',
  options: { ...CONNECT, json: { type: 'boolean' }, presence: { type: 'string' } },
  async run(v) {
    const presence = v.presence as string | undefined;
    if (presence !== undefined && presence !== 'online' && presence !== 'offline') throw new UsageError('--presence is online or offline');
    const client = await connect(v);
    try {
      const all: Machine[] = [];
      for await (const m of client.machines.iter(presence ? { presence } : {})) all.push(m);
      if (v.json) return printJson(all);
      if (all.length === 0) return void process.stdout.write('no machines yet: enrol one with cmdop-agent run --relay URL --token TOKEN\n');
      process.stdout.write(table([['HOSTNAME', 'ID', 'PRESENCE', 'SEEN', 'LOAD', 'MEM', 'DISK', 'VERSION'], ...all.map(machineRow)]));
    } finally {
      await client.close();
    }
  },
};
