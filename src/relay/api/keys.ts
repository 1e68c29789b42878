/** `admin.keys.*` and `admin.tokens.*`: the admin socket, or a key with admin on every machine. */
import { cmdop } from '../../protocol/gen/cmdop.js';
import type { ServiceRegistry } from '../../link/services.js';
import { requireGlobalAdmin, type RelayCtx } from './authz.js';
import { grantFromWire, keyView, tokenView } from './views.js';
import type { RelayApi } from './index.js';

const v1 = cmdop.v1;
const enc = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T) => type.encode(m).finish();

export function registerKeys(r: ServiceRegistry<RelayCtx>, api: RelayApi): void {
  const { state, audit } = api;
  r.unary('admin', 'keys.issue', v1.IssueKeyRequest, async (req, ctx) => {
    const by = requireGlobalAdmin(ctx, 'issuing keys');
    const grants = req.grants.length ? req.grants.map(grantFromWire) : undefined;
    const { key, secret } = await state.issueKey({ name: req.name, grants, ttlMs: Number(req.ttlMs) || undefined });
    audit.emit('key.issued', { key: by?.id, subject: key.id, name: key.name, grants: key.grants, expiresMs: key.expiresMs });
    return enc(v1.IssueKeyResponse, { key: keyView(key), secret });
  })
    .unary('admin', 'keys.list', v1.Empty, (_req, ctx) => {
      requireGlobalAdmin(ctx, 'listing keys');
      return enc(v1.ListKeysResponse, { keys: state.listKeys().map(keyView) });
    })
    .unary('admin', 'keys.revoke', v1.RevokeRequest, async (req, ctx) => {
      const by = requireGlobalAdmin(ctx, 'revoking keys');
      await state.revokeKey(req.id);
      const closedLinks = api.closeKeyLinks(req.id);
      audit.emit('key.revoked', { key: by?.id, subject: req.id, closedLinks });
      return enc(v1.RevokeResponse, { closedLinks });
    })
    .unary('admin', 'tokens.issue', v1.IssueTokenRequest, async (req, ctx) => {
      const by = requireGlobalAdmin(ctx, 'issuing join tokens');
      const { token, secret } = await state.tokens.issue({ ttlMs: Number(req.ttlMs) || undefined, uses: req.unlimited ? null : req.uses || 1, labels: req.labels, fleet: req.fleet || undefined });
      audit.emit('token.issued', { key: by?.id, subject: token.id, expiresMs: token.expiresMs, uses: token.usesLeft, fleet: token.fleetId || undefined });
      return enc(v1.IssueTokenResponse, { token: tokenView(token), secret });
    })
    .unary('admin', 'tokens.list', v1.Empty, (_req, ctx) => {
      requireGlobalAdmin(ctx, 'listing join tokens');
      return enc(v1.ListTokensResponse, { tokens: state.tokens.list().map(tokenView) });
    })
    .unary('admin', 'tokens.revoke', v1.RevokeRequest, async (req, ctx) => {
      const by = requireGlobalAdmin(ctx, 'revoking join tokens');
      await state.tokens.revoke(req.id);
      audit.emit('token.revoked', { key: by?.id, subject: req.id });
      return enc(v1.RevokeResponse, { closedLinks: 0 });
    });
}
