/** Rules both stores apply the same way (pure). */
import { AuthError } from '../../errors.js';
import type { AuditPage, AuditQuery, AuditRow, TokenRecord } from './records.js';

export function checkTokenUsable(t: TokenRecord, nowMs: number): void {
  if (t.revoked) throw new AuthError('invalid or revoked join token');
  if (t.expiresMs <= nowMs) throw new AuthError('join token expired');
  if (t.usesLeft !== null && t.usesLeft <= 0) throw new AuthError('join token already used up');
}

export function auditRowMatches(r: AuditRow, q: AuditQuery): boolean {
  return (
    (q.sinceMs === undefined || r.tsMs >= q.sinceMs) &&
    (q.untilMs === undefined || r.tsMs < q.untilMs) &&
    (!q.machineId || r.machineId === q.machineId) &&
    (!q.keyId || r.keyId === q.keyId) &&
    (!q.type || r.type === q.type || (q.type.endsWith('.*') && r.type.startsWith(q.type.slice(0, -1)))) &&
    (!q.chain || r.chain === q.chain)
  );
}

/** A page of rows in store order, after the cursor. */
export function filterAudit(rows: Iterable<AuditRow & { pos: number }>, q: AuditQuery): AuditPage {
  const out: (AuditRow & { pos: number })[] = [];
  for (const r of rows) {
    if (q.after !== undefined && r.pos <= q.after) continue;
    if (!auditRowMatches(r, q)) continue;
    out.push(r);
    if (out.length >= q.limit) break;
  }
  return { rows: out, next: out.length ? out[out.length - 1]!.pos : (q.after ?? 0) };
}
