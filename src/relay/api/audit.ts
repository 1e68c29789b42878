/**
 * `audit.*`: reading and verifying the log (clients), and agents' uploads of their own records.
 * A key without the admin grant on every machine reads only the records of its own key.
 */
import { cmdop } from '../../protocol/gen/cmdop.js';
import { AuthError, PermissionError, ValidationError } from '../../errors.js';
import { isGlobalAdmin } from '../../control/access.js';
import { verifyRows, type AuditVerdict, type StoredRow } from '../../control/audit/verify.js';
import type { ServiceRegistry } from '../../link/services.js';
import type { AuditRow } from '../store/records.js';
import type { RelayStore } from '../store/store.js';
import type { RelayState } from '../state.js';
import { publicKeyFromB64, type AuditIdentity } from '../audit/identity.js';
import { callerKey, requireGlobalAdmin, type RelayCtx } from './authz.js';
import type { RelayApi } from './index.js';

const v1 = cmdop.v1;
const enc = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T) => type.encode(m).finish();
export const AUDIT_PAGE_MAX = 5000;

const eventView = (r: AuditRow & { pos: number }): cmdop.v1.IAuditEvent => ({ ...r, agentSeq: r.agentSeq ?? 0 });

/** Every stored row, in store order, checked chain by chain. */
export async function verifyStore(store: RelayStore, state: Pick<RelayState, 'machine'>, self: Pick<AuditIdentity, 'chain' | 'publicKey'> | null): Promise<AuditVerdict> {
  const rows: StoredRow[] = [];
  for (let after = 0; ; ) {
    const p = await store.queryAudit({ after, limit: AUDIT_PAGE_MAX });
    rows.push(...p.rows);
    if (p.rows.length < AUDIT_PAGE_MAX) break;
    after = p.next;
  }
  return verifyRows(rows, {
    relay: (chain, list) => {
      if (self && chain === self.chain) return self.publicKey;
      const start = list[0]!.seq === 1 ? (JSON.parse(list[0]!.body) as { publicKey?: string }).publicKey : undefined;
      return start ? publicKeyFromB64(start) : null;
    },
    machine: (id) => {
      const m = state.machine(id);
      return m ? publicKeyFromB64(m.publicKey) : null;
    },
  });
}

export function registerAudit(r: ServiceRegistry<RelayCtx>, api: RelayApi): void {
  const { state, audit } = api;
  const agentOnly = (ctx: RelayCtx) => {
    if (ctx.conn.role !== 'agent') throw new PermissionError('audit uploads come from agents');
    return ctx.conn.machineId;
  };
  r.unary('audit', 'list', v1.ListAuditRequest, async (req, ctx) => {
    const key = callerKey(ctx);
    const own = key && !isGlobalAdmin(key);
    if (own && req.keyId && req.keyId !== key.id) throw new PermissionError("reading other keys' audit records needs the admin grant on all machines", { detail: 'missing_grant' });
    const limit = req.limit || 100;
    if (limit > AUDIT_PAGE_MAX) throw new ValidationError(`limit must be at most ${AUDIT_PAGE_MAX}`);
    const machineId = req.machine ? api.registry.find(req.machine, key).id : undefined;
    const p = await state.store.queryAudit({
      after: Number(req.after) || undefined,
      sinceMs: Number(req.sinceMs) || undefined,
      untilMs: Number(req.untilMs) || undefined,
      machineId,
      keyId: own ? key.id : req.keyId || undefined,
      type: req.type || undefined,
      limit,
    });
    return enc(v1.ListAuditResponse, { events: p.rows.map(eventView), next: p.next });
  })
    .unary('audit', 'verify', v1.Empty, async (_req, ctx) => {
      requireGlobalAdmin(ctx, 'verifying the audit log');
      await audit.flushed();
      return enc(v1.VerifyAuditResponse, await verifyStore(state.store, state, api.auditIdentity));
    })
    .unary('audit', 'head', v1.Empty, async (_req, ctx) => {
      const head = await audit.agentHead(agentOnly(ctx));
      return enc(v1.AuditHeadResponse, { seq: head?.seq ?? 0, hash: head?.hash ?? '' });
    })
    .unary('audit', 'append', v1.AppendAuditRequest, async (req, ctx) => {
      const id = agentOnly(ctx);
      const m = state.machine(id)!;
      const key = publicKeyFromB64(m.publicKey);
      if (!key) throw new AuthError('this machine\'s stored key is not an Ed25519 key');
      const seq = await audit.appendAgent(id, key, req.records);
      return enc(v1.AuditHeadResponse, { seq, hash: '' });
    });
}
