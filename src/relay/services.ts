/**
 * Streams the relay answers itself (Open.target = ""): the machines registry for clients, and
 * key/token administration for the admin socket.
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { PermissionError } from '../errors.js';
import type { Logger } from '../log.js';
import { ServiceRegistry } from '../link/services.js';
import type { Conn } from './conn.js';
import type { Registry } from './registry.js';
import type { RelayState } from './state.js';
import type { KeyRecord, TokenRecord } from './store.js';

const v1 = cmdop.v1;

export interface RelayCtx {
  log: Logger;
  conn: Conn;
}

export interface AdminHooks {
  /** Closes the live links that authenticated with this key; returns how many. */
  closeKeyLinks(keyId: string): number;
  /** Closes a machine's live agent link (it was disabled). */
  closeMachineLink(machineId: string): void;
}

const keyView = (k: KeyRecord): cmdop.v1.IApiKey => ({ id: k.id, name: k.name, createdMs: k.createdMs, revoked: k.revoked, lastUsedMs: k.lastUsedMs });
const tokenView = (t: TokenRecord): cmdop.v1.IJoinToken => ({ id: t.id, createdMs: t.createdMs, expiresMs: t.expiresMs, usesLeft: t.usesLeft ?? 0, unlimited: t.usesLeft === null, labels: t.labels, revoked: t.revoked, uses: t.uses });

function requireRole(ctx: RelayCtx, ...roles: string[]): void {
  if (!roles.includes(ctx.conn.role)) throw new PermissionError(`this call needs the ${roles.join(' or ')} role`);
}

export function relayServices(registry: Registry, state: RelayState, hooks: AdminHooks): ServiceRegistry<RelayCtx> {
  const enc = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T) => type.encode(m).finish();
  return new ServiceRegistry<RelayCtx>()
    .unary('machines', 'list', v1.ListMachinesRequest, (req, ctx) => {
      requireRole(ctx, 'client', 'admin');
      return enc(v1.ListMachinesResponse, registry.list(req));
    })
    .unary('machines', 'get', v1.GetMachineRequest, (req, ctx) => {
      requireRole(ctx, 'client', 'admin');
      return enc(v1.Machine, registry.view(registry.find(req.machine)));
    })
    .unary('machines', 'update', v1.UpdateMachineRequest, (req, ctx) => {
      requireRole(ctx, 'client', 'admin');
      const m = registry.find(req.machine);
      state.updateMachine(m.id, { name: req.name || undefined, labels: req.setLabels ? req.labels : undefined });
      return enc(v1.Machine, registry.view(m));
    })
    .unary('machines', 'disable', v1.SetDisabledRequest, (req, ctx) => {
      requireRole(ctx, 'client', 'admin');
      const m = registry.find(req.machine);
      state.setDisabled(m.id, req.disabled);
      if (req.disabled) hooks.closeMachineLink(m.id);
      return enc(v1.Machine, registry.view(m));
    })
    .unary('admin', 'keys.issue', v1.IssueKeyRequest, (req, ctx) => {
      requireRole(ctx, 'admin');
      const { key, secret } = state.issueKey(req.name);
      return enc(v1.IssueKeyResponse, { key: keyView(key), secret });
    })
    .unary('admin', 'keys.list', v1.Empty, (_req, ctx) => {
      requireRole(ctx, 'admin');
      return enc(v1.ListKeysResponse, { keys: state.listKeys().map(keyView) });
    })
    .unary('admin', 'keys.revoke', v1.RevokeRequest, (req, ctx) => {
      requireRole(ctx, 'admin');
      state.revokeKey(req.id);
      return enc(v1.RevokeResponse, { closedLinks: hooks.closeKeyLinks(req.id) });
    })
    .unary('admin', 'tokens.issue', v1.IssueTokenRequest, (req, ctx) => {
      requireRole(ctx, 'admin');
      const { token, secret } = state.issueToken({ ttlMs: req.ttlMs || undefined, uses: req.unlimited ? null : req.uses || 1, labels: req.labels });
      return enc(v1.IssueTokenResponse, { token: tokenView(token), secret });
    })
    .unary('admin', 'tokens.list', v1.Empty, (_req, ctx) => {
      requireRole(ctx, 'admin');
      return enc(v1.ListTokensResponse, { tokens: state.listTokens().map(tokenView) });
    })
    .unary('admin', 'tokens.revoke', v1.RevokeRequest, (req, ctx) => {
      requireRole(ctx, 'admin');
      state.revokeToken(req.id);
      return enc(v1.RevokeResponse, { closedLinks: 0 });
    });
}

export { keyView, tokenView };
