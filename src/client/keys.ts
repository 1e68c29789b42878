/** `client.keys`: API keys and their grants (needs a key with admin on every machine). */
import { cmdop } from '../protocol/gen/cmdop.js';
import type { Capability } from '../control/capabilities.js';
import type { Caller } from './caller.js';

const v1 = cmdop.v1;

/** Where a grant reaches, and what it allows there. */
export type KeyGrant =
  | { on: 'all'; caps: Capability[] }
  | { on: 'fleets'; ids: string[]; caps: Capability[] }
  | { on: 'machines'; ids: string[]; caps: Capability[] }
  | { on: 'selector'; selector: string; caps: Capability[] };

export interface ApiKey {
  id: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsed: Date | null;
  revoked: boolean;
  grants: KeyGrant[];
}

export interface IssueKeyOptions {
  name: string;
  /** None: full access (every machine, every capability). */
  grants?: KeyGrant[];
  /** Lifetime in ms (none: no expiry). */
  ttlMs?: number;
}

export function toGrant(g: cmdop.v1.IGrant): KeyGrant {
  const caps = (g.caps ?? []) as Capability[];
  if (g.on === 'fleets' || g.on === 'machines') return { on: g.on, ids: [...(g.ids ?? [])], caps };
  if (g.on === 'selector') return { on: 'selector', selector: g.selector ?? '', caps };
  return { on: 'all', caps };
}

export function toKey(k: cmdop.v1.IApiKey): ApiKey {
  const ms = (n: unknown) => (Number(n) ? new Date(Number(n)) : null);
  return { id: k.id ?? '', name: k.name ?? '', createdAt: new Date(Number(k.createdMs)), expiresAt: ms(k.expiresMs), lastUsed: ms(k.lastUsedMs), revoked: !!k.revoked, grants: (k.grants ?? []).map(toGrant) };
}

export class Keys {
  constructor(private readonly caller: Caller) {}

  /**
   * Issues a key; its secret is returned once and never again.
   * @example
   * const { key, secret } = await client.keys.issue({ name: 'support-ana', grants: [{ on: 'fleets', ids: [fleet.id], caps: ['terminal', 'files:read'] }], ttlMs: 4 * 3600_000 });
   */
  async issue(o: IssueKeyOptions): Promise<{ key: ApiKey; secret: string }> {
    const req = v1.IssueKeyRequest.encode({ name: o.name, ttlMs: o.ttlMs ?? 0, grants: o.grants ?? [] }).finish();
    const r = v1.IssueKeyResponse.decode(await this.caller.unary('', 'admin', 'keys.issue', req));
    return { key: toKey(r.key!), secret: r.secret };
  }

  async list(): Promise<ApiKey[]> {
    return v1.ListKeysResponse.decode(await this.caller.unary('', 'admin', 'keys.list', v1.Empty.encode({}).finish())).keys.map(toKey);
  }

  /** Revokes a key; its live connections are closed before this returns. Returns how many. */
  async revoke(id: string): Promise<number> {
    return v1.RevokeResponse.decode(await this.caller.unary('', 'admin', 'keys.revoke', v1.RevokeRequest.encode({ id }).finish())).closedLinks;
  }
}
