#!/usr/bin/env node
/** `cmdop`: the client CLI. */
import { Client } from '../client/client.js';
import type { Machine } from '../client/machines.js';
import { VERSION } from '../version.js';
import { ago, printJson, runProgram, table, UsageError, type Command, type Options } from './args.js';

const CONNECT: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  fingerprint: { type: 'string' },
  timeout: { type: 'string' },
  insecure: { type: 'boolean' },
};

type Values = Record<string, string | boolean | string[] | undefined>;

export function connect(v: Values): Promise<Client> {
  const timeout = v.timeout === undefined ? undefined : Number(v.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError('--timeout takes milliseconds');
  return Client.connect({
    url: v.url as string | undefined,
    token: v.token as string | undefined,
    fingerprint: v.fingerprint as string | undefined,
    timeoutMs: timeout,
    insecure: v.insecure as boolean | undefined,
  });
}

function machineRow(m: Machine): string[] {
  const s = m.summary;
  const mem = s && s.memTotal ? `${Math.round((100 * s.memUsed) / s.memTotal)}%` : '-';
  const disk = s && s.diskTotal ? `${Math.round((100 * s.diskUsed) / s.diskTotal)}%` : '-';
  return [m.hostname, m.id, m.presence, m.presence === 'online' ? 'now' : ago(m.lastSeen), s ? s.load1.toFixed(2) : '-', mem, disk, m.agentVersion.replace('cmdop-agent/', '')];
}

const commands: Command[] = [
  {
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
  },
];

await runProgram('cmdop', commands, process.argv.slice(2), VERSION);
