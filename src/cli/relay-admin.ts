/**
 * Key and token administration for `cmdop-relay keys|tokens`. With the relay running, calls go
 * through its admin socket (so a revoke closes live links at once); with it stopped, the state
 * file is edited directly. Both paths run the same RelayState methods.
 *
 * The state file is edited only when no relay is running on it (its pid file names no live
 * process, and the admin socket refuses the connection). A running relay that does not answer is
 * an error that changes nothing: a revoke the running relay never heard of would be undone by its
 * next save, and the key would keep working.
 */
import { existsSync } from 'node:fs';
import { cmdop } from '../protocol/gen/cmdop.js';
import { silentLogger } from '../log.js';
import { connectLink } from '../link/connect.js';
import { callUnary } from '../link/call.js';
import { ConnectionError, UnavailableError } from '../errors.js';
import { adminSocketPath, runningRelayPid } from '../relay/relay.js';
import { RelayState } from '../relay/state.js';
import { openStore } from '../relay/store/open.js';
import { grantFromWire, keyView, tokenView } from '../relay/api/views.js';
import { AuditLog } from '../relay/audit/log.js';
import { loadAuditIdentity } from '../relay/audit/identity.js';
import { VERSION } from '../version.js';

const v1 = cmdop.v1;
const ADMIN_TIMEOUT_MS = 10_000;

export interface Admin {
  issueKey(req: cmdop.v1.IIssueKeyRequest): Promise<{ key: cmdop.v1.IApiKey; secret: string }>;
  listKeys(): Promise<cmdop.v1.IApiKey[]>;
  /** Live links closed by the running relay, or null when no relay was running (the state file was edited). */
  revokeKey(id: string): Promise<number | null>;
  issueToken(req: cmdop.v1.IIssueTokenRequest): Promise<{ token: cmdop.v1.IJoinToken; secret: string }>;
  listTokens(): Promise<cmdop.v1.IJoinToken[]>;
  revokeToken(id: string): Promise<void>;
  close(): void | Promise<void>;
}

export async function openAdmin(dataDir: string, store?: string): Promise<Admin> {
  const sock = adminSocketPath(dataDir);
  const pid = runningRelayPid(dataDir);
  if (existsSync(sock) || pid !== null) {
    try {
      return await socketAdmin(sock);
    } catch (err) {
      // Only a refused or missing socket with no live relay process means nobody is serving this data dir.
      const code = (err as { cause?: { code?: string } }).cause?.code;
      const nobody = err instanceof ConnectionError && (code === 'ECONNREFUSED' || code === 'ENOENT');
      if (!nobody || pid !== null) {
        throw new UnavailableError(`the relay${pid !== null ? ` (pid ${pid})` : ''} is running on ${dataDir} but its admin socket did not answer (${(err as Error).message}); nothing was changed`, { cause: err, detail: 'admin_unavailable' });
      }
    }
  }
  return directAdmin(dataDir, store);
}

async function socketAdmin(sock: string): Promise<Admin> {
  const { link } = await connectLink({
    dial: { url: `ws+unix://${sock}:/`, timeoutMs: ADMIN_TIMEOUT_MS },
    log: silentLogger(),
    hello: { role: v1.Role.CLIENT, software: `cmdop-relay-cli/${VERSION}` },
  });
  const call = (method: string, req: Uint8Array) => callUnary(link, 'admin', method, req, { timeoutMs: ADMIN_TIMEOUT_MS });
  const empty = v1.Empty.encode({}).finish();
  return {
    issueKey: async (req) => {
      const r = v1.IssueKeyResponse.decode(await call('keys.issue', v1.IssueKeyRequest.encode(req).finish()));
      return { key: r.key!, secret: r.secret };
    },
    listKeys: async () => v1.ListKeysResponse.decode(await call('keys.list', empty)).keys,
    revokeKey: async (id) => v1.RevokeResponse.decode(await call('keys.revoke', v1.RevokeRequest.encode({ id }).finish())).closedLinks,
    issueToken: async (req) => {
      const r = v1.IssueTokenResponse.decode(await call('tokens.issue', v1.IssueTokenRequest.encode(req).finish()));
      return { token: r.token!, secret: r.secret };
    },
    listTokens: async () => v1.ListTokensResponse.decode(await call('tokens.list', empty)).tokens,
    revokeToken: async (id) => void (await call('tokens.revoke', v1.RevokeRequest.encode({ id }).finish())),
    close: () => link.close(),
  };
}

/** No relay runs on this data dir: the same state methods, on the store itself, audited the same way. */
async function directAdmin(dataDir: string, spec: string | undefined): Promise<Admin> {
  const store = await openStore(spec, dataDir);
  const state = await RelayState.open(store);
  const audit = await AuditLog.open(store, loadAuditIdentity(dataDir), silentLogger());
  return {
    issueKey: async (req) => {
      const { key, secret } = await state.issueKey({ name: req.name ?? '', grants: req.grants?.length ? req.grants.map(grantFromWire) : undefined, ttlMs: Number(req.ttlMs) || undefined });
      audit.emit('key.issued', { subject: key.id, name: key.name, grants: key.grants, expiresMs: key.expiresMs, via: 'cmdop-relay' });
      return { key: keyView(key), secret };
    },
    listKeys: async () => state.listKeys().map(keyView),
    revokeKey: async (id) => {
      await state.revokeKey(id);
      audit.emit('key.revoked', { subject: id, via: 'cmdop-relay' });
      return null;
    },
    issueToken: async (req) => {
      const { token, secret } = await state.tokens.issue({ ttlMs: Number(req.ttlMs) || undefined, uses: req.unlimited ? null : req.uses || 1, labels: req.labels ?? {}, fleet: req.fleet || undefined });
      audit.emit('token.issued', { subject: token.id, expiresMs: token.expiresMs, via: 'cmdop-relay' });
      return { token: tokenView(token), secret };
    },
    listTokens: async () => state.tokens.list().map(tokenView),
    revokeToken: async (id) => {
      await state.tokens.revoke(id);
      audit.emit('token.revoked', { subject: id, via: 'cmdop-relay' });
    },
    close: async () => {
      await audit.stop();
      await state.dispose();
      await store.close();
    },
  };
}
