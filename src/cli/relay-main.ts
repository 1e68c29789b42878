/** `cmdop-relay`: serve the relay, and administer its API keys and join tokens. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '../log.js';
import { Relay } from '../relay/relay.js';
import { loadOrCreateTls } from '../relay/tls.js';
import { VERSION } from '../version.js';
import { parseDuration, printJson, runProgram, table, UsageError, type Command, type Options } from './args.js';
import { openAdmin } from './relay-admin.js';
import { printVerdict } from './verdict.js';
import { openStore } from '../relay/store/open.js';
import { RelayState } from '../relay/state.js';
import { verifyStore } from '../relay/api/audit.js';
import { loadAuditIdentity } from '../relay/audit/identity.js';
import { describeGrants, GRANT_OPTIONS, keyRequestFromFlags } from './grants.js';
import { CLUSTER_COMMANDS, CLUSTER_SERVE_OPTIONS, clusterFromFlags } from './relay-cluster.js';

type Values = Record<string, string | boolean | string[] | undefined>;

const DATA: Options = { 'data-dir': { type: 'string' }, store: { type: 'string' } };

/** `--store postgres://...` / CMDOP_RELAY_STORE; embedded by default. */
function storeSpec(v: Values): string | undefined {
  return (v.store as string | undefined) ?? process.env.CMDOP_RELAY_STORE ?? undefined;
}

function dataDir(v: Values): string {
  const dir = (v['data-dir'] as string | undefined) ?? process.env.CMDOP_RELAY_DATA ?? (process.getuid?.() === 0 ? '/var/lib/cmdop-relay' : join(homedir(), '.local/share/cmdop-relay'));
  return resolve(dir);
}

function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new UsageError(`--listen takes host:port, got "${s}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const date = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : '-');

async function withAdmin<T>(v: Values, fn: (a: Awaited<ReturnType<typeof openAdmin>>) => Promise<T>): Promise<T> {
  const admin = await openAdmin(dataDir(v), storeSpec(v));
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

const commands: Command[] = [
  {
    name: 'serve',
    summary: 'run the relay (HTTPS + WebSocket)',
    usage: 'cmdop-relay serve [--listen 0.0.0.0:8443] [--data-dir DIR] [--store postgres://...] [--audit-retention 90d] [--cert FILE --key FILE] [--insecure] [--ui] [--cluster-listen ADDR --cluster-secret FILE [--cluster-advertise ADDR] [--node-id ID]]',
    options: {
      ...DATA,
      ...CLUSTER_SERVE_OPTIONS,
      'audit-retention': { type: 'string' },
      listen: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      insecure: { type: 'boolean' },
      ui: { type: 'boolean' },
      heartbeat: { type: 'string' },
      'max-handshakes': { type: 'string' },
      'log-level': { type: 'string' },
    },
    async run(v) {
      const { host, port } = parseListen((v.listen as string | undefined) ?? process.env.CMDOP_RELAY_LISTEN ?? '0.0.0.0:8443');
      const log = createLogger((v['log-level'] as string | undefined) ?? process.env.CMDOP_LOG_LEVEL ?? 'info', 'cmdop-relay');
      const relay = await Relay.start({
        dataDir: dataDir(v),
        host,
        port,
        certFile: v.cert as string | undefined,
        keyFile: v.key as string | undefined,
        insecure: !!v.insecure,
        ui: !!v.ui,
        heartbeatMs: v.heartbeat ? parseDuration(v.heartbeat as string) : undefined,
        maxHandshakes: v['max-handshakes'] ? Number(v['max-handshakes']) : undefined,
        store: storeSpec(v),
        auditRetentionMs: v['audit-retention'] ? parseDuration(v['audit-retention'] as string) : undefined,
        cluster: clusterFromFlags(v, dataDir(v), storeSpec(v)),
        log,
      });
      if (relay.fingerprint) process.stderr.write(`cmdop-relay listening on ${relay.url}\nfingerprint SHA256 ${relay.fingerprint}\n`);
      if (v.ui) process.stderr.write(`web console on ${relay.url.replace(/^ws/, 'http')}/ui/\n`);
      if (relay.cluster) process.stderr.write(`cluster node ${relay.cluster.nodeId} on ${relay.cluster.clusterAddress}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await relay.stop();
    },
  },
  {
    name: 'fingerprint',
    summary: "print the SHA-256 fingerprint of the relay's TLS certificate",
    usage: 'cmdop-relay fingerprint [--data-dir DIR] [--cert FILE --key FILE]',
    options: { ...DATA, cert: { type: 'string' }, key: { type: 'string' } },
    async run(v) {
      const tls = await loadOrCreateTls(dataDir(v), v.cert as string | undefined, v.key as string | undefined);
      process.stdout.write(tls.fingerprint + '\n');
    },
  },
  {
    name: 'keys issue',
    summary: 'issue a client API key (shown once); no scope flags = full access',
    usage: 'cmdop-relay keys issue [--name NAME] [--fleet F,..] [--machine ID,..] [--selector k=v] [--allow CAPS] [--ttl 4h] [--json]',
    options: { ...DATA, ...GRANT_OPTIONS, name: { type: 'string' }, json: { type: 'boolean' } },
    async run(v) {
      const req = await keyRequestFromFlags(v);
      const r = await withAdmin(v, (a) => a.issueKey(req));
      if (v.json) return printJson({ id: r.key.id, name: r.key.name, secret: r.secret, expires: r.key.expiresMs ? date(r.key.expiresMs) : null, grants: r.key.grants });
      process.stdout.write(`${r.secret}\n`);
      process.stderr.write(`key ${r.key.id} issued (${describeGrants(r.key.grants)}); store it now, it is not shown again\n`);
    },
  },
  {
    name: 'keys list',
    summary: 'list API keys (never their secrets)',
    usage: 'cmdop-relay keys list [--json]',
    options: { ...DATA, json: { type: 'boolean' } },
    async run(v) {
      const keys = await withAdmin(v, (a) => a.listKeys());
      if (v.json) return printJson(keys.map((k) => ({ id: k.id, name: k.name, created: date(k.createdMs), lastUsed: k.lastUsedMs ? date(k.lastUsedMs) : null, revoked: !!k.revoked })));
      process.stdout.write(table([['ID', 'NAME', 'CREATED', 'LAST USED', 'STATE'], ...keys.map((k) => [k.id!, k.name!, date(k.createdMs), date(k.lastUsedMs), k.revoked ? 'revoked' : 'active'])]));
    },
  },
  {
    name: 'keys revoke',
    summary: "revoke an API key and close its live connections",
    usage: 'cmdop-relay keys revoke ID',
    options: { ...DATA, json: { type: 'boolean' } },
    async run(v, pos) {
      if (pos.length !== 1) throw new UsageError('keys revoke takes one key id');
      const closed = await withAdmin(v, (a) => a.revokeKey(pos[0]!));
      if (v.json) return printJson({ id: pos[0], revoked: true, closedLinks: closed });
      process.stdout.write(closed === null ? `key ${pos[0]} revoked (no relay is running on this data dir)\n` : `key ${pos[0]} revoked; ${closed} live connection(s) closed\n`);
    },
  },
  {
    name: 'tokens issue',
    summary: 'issue a join token for enrolling agents (shown once)',
    usage: 'cmdop-relay tokens issue [--ttl 24h] [--uses N | --unlimited] [--labels k=v,...] [--fleet NAME] [--json]',
    options: { ...DATA, ttl: { type: 'string' }, uses: { type: 'string' }, unlimited: { type: 'boolean' }, labels: { type: 'string' }, fleet: { type: 'string' }, json: { type: 'boolean' } },
    async run(v) {
      const labels: Record<string, string> = {};
      for (const pair of ((v.labels as string | undefined) ?? '').split(',').filter(Boolean)) {
        const [k, ...rest] = pair.split('=');
        if (!k || rest.length === 0) throw new UsageError(`--labels takes k=v pairs, got "${pair}"`);
        labels[k] = rest.join('=');
      }
      const uses = v.uses === undefined ? 1 : Number(v.uses);
      if (!(Number.isInteger(uses) && uses > 0)) throw new UsageError('--uses takes a positive whole number');
      const r = await withAdmin(v, (a) => a.issueToken({ ttlMs: v.ttl ? parseDuration(v.ttl as string) : 0, uses, unlimited: !!v.unlimited, labels, fleet: (v.fleet as string | undefined) ?? '' }));
      if (v.json) return printJson({ id: r.token.id, expires: date(r.token.expiresMs), secret: r.secret });
      process.stdout.write(`${r.secret}\n`);
      process.stderr.write(`join token ${r.token.id} expires ${date(r.token.expiresMs)}\n`);
    },
  },
  {
    name: 'tokens list',
    summary: 'list join tokens',
    usage: 'cmdop-relay tokens list [--json]',
    options: { ...DATA, json: { type: 'boolean' } },
    async run(v) {
      const tokens = await withAdmin(v, (a) => a.listTokens());
      if (v.json) return printJson(tokens.map((t) => ({ id: t.id, created: date(t.createdMs), expires: date(t.expiresMs), uses: t.uses ?? 0, usesLeft: t.unlimited ? null : t.usesLeft ?? 0, labels: t.labels ?? {}, revoked: !!t.revoked })));
      const state = (t: (typeof tokens)[number]) => (t.revoked ? 'revoked' : (t.expiresMs ?? 0) < Date.now() ? 'expired' : !t.unlimited && !t.usesLeft ? 'used up' : 'active');
      process.stdout.write(table([['ID', 'EXPIRES', 'USES', 'LEFT', 'STATE'], ...tokens.map((t) => [t.id!, date(t.expiresMs), String(t.uses ?? 0), t.unlimited ? 'unlimited' : String(t.usesLeft ?? 0), state(t)])]));
    },
  },
  {
    name: 'tokens revoke',
    summary: 'revoke a join token',
    usage: 'cmdop-relay tokens revoke ID',
    options: { ...DATA },
    async run(v, pos) {
      if (pos.length !== 1) throw new UsageError('tokens revoke takes one token id');
      await withAdmin(v, (a) => a.revokeToken(pos[0]!));
      process.stdout.write(`token ${pos[0]} revoked\n`);
    },
  },
  {
    name: 'audit verify',
    summary: "check the relay's audit log in its store: every chain, and each agent's chain inside it",
    usage: 'cmdop-relay audit verify [--data-dir DIR] [--store postgres://...] [--json]',
    options: { ...DATA, json: { type: 'boolean' } },
    async run(v) {
      const dir = dataDir(v);
      const store = await openStore(storeSpec(v), dir);
      try {
        const state = await RelayState.open(store);
        const r = await verifyStore(store, state, loadAuditIdentity(dir));
        return printVerdict(r, !!v.json);
      } finally {
        await store.close();
      }
    },
  },
  ...CLUSTER_COMMANDS,
];

/** Runs `cmdop-relay` with these arguments (the bin script and the single executable both call this). */
export function main(argv: string[]): Promise<void> {
  return runProgram('cmdop-relay', commands, argv, VERSION);
}
