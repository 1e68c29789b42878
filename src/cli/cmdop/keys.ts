/** `cmdop keys issue|list|revoke`: scoped API keys (needs a key with admin on every machine). */
import { printJson, table, UsageError, type Command } from '../args.js';
import { describeGrants, GRANT_OPTIONS, keyRequestFromFlags } from '../grants.js';
import { CONNECT, withClient } from './connect.js';
import type { ApiKey } from '../../client/keys.js';

const date = (d: Date | null) => (d ? d.toISOString() : '-');
const json = (k: ApiKey) => ({ id: k.id, name: k.name, created: date(k.createdAt), expires: k.expiresAt ? date(k.expiresAt) : null, lastUsed: k.lastUsed ? date(k.lastUsed) : null, revoked: k.revoked, grants: k.grants });

export const keysCommands: Command[] = [
  {
    name: 'keys issue',
    summary: 'issue an API key (shown once); scope it with --fleet/--machine/--selector and --allow',
    usage: 'cmdop keys issue --name NAME [--fleet F,..] [--machine M,..] [--selector k=v] [--allow terminal,files:read] [--ttl 4h] [--json]',
    options: { ...CONNECT, ...GRANT_OPTIONS, name: { type: 'string' }, json: { type: 'boolean' } },
    async run(v) {
      if (!v.name) throw new UsageError('keys issue needs --name');
      return withClient(v, async (client) => {
        // Fleet names become ids, so the grant survives a rename.
        const req = await keyRequestFromFlags(v, (names) => Promise.all(names.map(async (n) => (await client.fleets.get(n)).id)));
        const { key, secret } = await client.keys.issue({ name: req.name!, grants: req.grants as never, ...(req.ttlMs ? { ttlMs: Number(req.ttlMs) } : {}) });
        if (v.json) return printJson({ ...json(key), secret });
        process.stdout.write(`${secret}\n`);
        process.stderr.write(`key ${key.id} issued (${describeGrants(key.grants)})${key.expiresAt ? `, expires ${date(key.expiresAt)}` : ''}; store it now, it is not shown again\n`);
      });
    },
  },
  {
    name: 'keys list',
    summary: 'list API keys and their grants (never their secrets)',
    usage: 'cmdop keys list [--json]',
    options: { ...CONNECT, json: { type: 'boolean' } },
    async run(v) {
      return withClient(v, async (client) => {
        const keys = await client.keys.list();
        if (v.json) return printJson(keys.map(json));
        const state = (k: ApiKey) => (k.revoked ? 'revoked' : k.expiresAt && k.expiresAt.getTime() <= Date.now() ? 'expired' : 'active');
        process.stdout.write(table([['ID', 'NAME', 'STATE', 'EXPIRES', 'GRANTS'], ...keys.map((k) => [k.id, k.name, state(k), date(k.expiresAt), describeGrants(k.grants)])]));
      });
    },
  },
  {
    name: 'keys revoke',
    summary: 'revoke an API key; its live connections close before this returns',
    usage: 'cmdop keys revoke ID [--json]',
    options: { ...CONNECT, json: { type: 'boolean' } },
    async run(v, pos) {
      if (pos.length !== 1) throw new UsageError('keys revoke takes one key id');
      return withClient(v, async (client) => {
        const closed = await client.keys.revoke(pos[0]!);
        if (v.json) return printJson({ id: pos[0], revoked: true, closedLinks: closed });
        process.stdout.write(`key ${pos[0]} revoked; ${closed} live connection(s) closed\n`);
      });
    },
  },
];
