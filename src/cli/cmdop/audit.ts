/** `cmdop audit [--follow] [--json]` and `cmdop audit verify`: the relay's audit log. */
import { parseDuration, table, type Command } from '../args.js';
import type { AuditEvent } from '../../client/audit.js';
import { CONNECT, withClient } from './connect.js';
import { printVerdict } from '../verdict.js';

const FOLLOW_POLL_MS = 1000;

function summary(e: AuditEvent): string {
  const { ts: _ts, type: _type, key: _key, machine: _machine, agent, ...rest } = e.fields as Record<string, unknown>;
  const inner = agent ? (JSON.parse((agent as { body: string }).body) as Record<string, unknown>) : {};
  const { ts: _its, type: _itype, ...innerRest } = inner;
  return Object.entries({ ...rest, ...innerRest })
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export const auditCommands: Command[] = [
  {
    name: 'audit',
    summary: 'list audit records (a key without admin sees its own); --follow keeps printing new ones',
    usage: 'cmdop audit [--since 1h] [--machine M] [--key ID] [--type stream.*] [--limit N] [--follow] [--json]',
    options: { ...CONNECT, since: { type: 'string' }, machine: { type: 'string' }, key: { type: 'string' }, type: { type: 'string' }, limit: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' } },
    async run(v) {
      const q = {
        ...(v.since ? { since: new Date(Date.now() - parseDuration(v.since as string)) } : {}),
        ...(v.machine ? { machine: v.machine as string } : {}),
        ...(v.key ? { key: v.key as string } : {}),
        ...(v.type ? { type: v.type as string } : {}),
      };
      const print = (items: AuditEvent[]) => {
        if (v.json) for (const e of items) process.stdout.write(JSON.stringify(e) + '\n');
        else if (items.length) process.stdout.write(table(items.map((e) => [e.time.toISOString(), e.type, e.keyId || '-', e.machineId || '-', summary(e)])));
      };
      return withClient(v, async (client) => {
        let after = 0;
        let left = v.limit ? Number(v.limit) : Infinity;
        for (;;) {
          const p = await client.audit.list({ ...q, after, limit: Math.min(500, left) });
          print(p.items);
          left -= p.items.length;
          after = p.next;
          if (left <= 0) return;
          if (p.items.length === 0) {
            if (!v.follow) return;
            await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
          }
        }
      });
    },
  },
  {
    name: 'audit verify',
    summary: "check every chain on the relay: hashes, signatures, order, and each agent's chain",
    usage: 'cmdop audit verify [--json]',
    options: { ...CONNECT, json: { type: 'boolean' } },
    async run(v) {
      return withClient(v, async (client) => {
        const r = await client.audit.verify();
        return printVerdict(r, !!v.json);
      });
    },
  },
];
