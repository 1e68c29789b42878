/**
 * Verifies stored audit rows (pure): every relay chain link by link, and inside it every agent
 * record the relay carried, against that agent's own chain and Ed25519 key. Used by the relay's
 * `audit.verify` call and by `cmdop-relay audit verify` on the files themselves.
 */
import type { KeyObject } from 'node:crypto';
import { linkProblem, verifyChain, type ChainLink, type VerifyResult } from './chain.js';

export interface StoredRow extends ChainLink {
  machineId: string;
  agentSeq: number | null;
}

export interface VerifyKeys {
  /** A relay chain's public key (from its start record, or the node's own). */
  relay(chain: string, rows: readonly StoredRow[]): KeyObject | null;
  machine(id: string): KeyObject | null;
}

export interface AuditVerdict extends VerifyResult {
  chains: number;
}

export function verifyRows(rows: readonly StoredRow[], keys: VerifyKeys): AuditVerdict {
  const byChain = new Map<string, StoredRow[]>();
  for (const r of rows) {
    const list = byChain.get(r.chain) ?? [];
    list.push(r);
    byChain.set(r.chain, list);
  }
  let total = 0;
  const agentHeads = new Map<string, ChainLink>();
  for (const [chain, list] of byChain) {
    const key = keys.relay(chain, list);
    if (!key) return { ok: false, records: total, chains: byChain.size, firstBad: `${chain}#${list[0]!.seq}`, reason: "no public key for this relay chain (its start record is missing)" };
    const r = verifyChain(list, key, (l) => agentProblem(l as StoredRow, keys, agentHeads));
    total += r.records;
    if (!r.ok) return { ...r, records: total, chains: byChain.size };
  }
  return { ok: true, records: total, chains: byChain.size, firstBad: '', reason: '' };
}

/** An agent record inside a relay row: signed by its machine, and following its predecessor. */
function agentProblem(r: StoredRow, keys: VerifyKeys, heads: Map<string, ChainLink>): string | null {
  if (r.agentSeq === null) return null;
  let inner: ChainLink;
  try {
    inner = (JSON.parse(r.body) as { agent: ChainLink }).agent;
  } catch {
    return 'its body is not JSON';
  }
  if (!inner || inner.seq !== r.agentSeq) return "its agent record does not match the row's agent seq";
  const key = keys.machine(r.machineId);
  if (!key) return `no public key for machine ${r.machineId}`;
  const p = inner.sig === '' ? 'it is not signed' : linkProblem(inner, key);
  if (p) return `the agent record ${inner.chain}#${inner.seq} of ${r.machineId}: ${p}`;
  const before = heads.get(r.machineId);
  if (before && (inner.seq !== before.seq + 1 || inner.prev !== before.hash)) return `the agent record #${inner.seq} of ${r.machineId} does not follow #${before.seq}`;
  heads.set(r.machineId, inner);
  return null;
}
