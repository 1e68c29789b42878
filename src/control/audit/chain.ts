/**
 * The audit chain (pure): each record names its chain, its place in it, the hash of the record
 * before it and a canonical JSON body; its hash covers all four, and the writer signs hashes
 * with its Ed25519 key. So an edited record fails its hash (or, if the editor rehashed every later
 * record, the next signature), a deleted or reordered one breaks the next record's `prev` or the
 * sequence, and `verifyChain` names the first bad one.
 *
 * A writer may sign only the last record of each batch it writes at once (the relay does: one
 * signature per write instead of per record). Since every hash covers the one before it, that
 * signature vouches for the whole batch; the last record of a chain must always be signed.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto';

export interface ChainLink {
  chain: string;
  seq: number;
  prev: string;
  body: string;
  hash: string;
  sig: string;
}

/** JSON with object keys sorted at every depth: one text for one value, whatever built it. */
export function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export function linkHash(chain: string, seq: number, prev: string, body: string): string {
  return createHash('sha256').update(`${chain}\n${seq}\n${prev}\n${body}`).digest('hex');
}

/** The next link after `head` (null: the chain starts here). */
/** The next link after `head` (null: the chain starts here); `key` null leaves it unsigned (not the batch's last). */
export function makeLink(chain: string, head: { seq: number; hash: string } | null, body: string, key: KeyObject | ((digest: Uint8Array) => Uint8Array) | null): ChainLink {
  const seq = (head?.seq ?? 0) + 1;
  const prev = head?.hash ?? '';
  const hash = linkHash(chain, seq, prev, body);
  if (!key) return { chain, seq, prev, body, hash, sig: '' };
  const digest = Buffer.from(hash, 'hex');
  const sig = typeof key === 'function' ? key(digest) : sign(null, digest, key);
  return { chain, seq, prev, body, hash, sig: Buffer.from(sig).toString('base64') };
}

/** Why a single link is bad on its own (hash, or signature where it has one), or null. */
export function linkProblem(l: ChainLink, key: KeyObject): string | null {
  if (linkHash(l.chain, l.seq, l.prev, l.body) !== l.hash) return 'its hash does not match its content (edited)';
  if (l.sig === '') return null;
  let ok = false;
  try {
    ok = verify(null, Buffer.from(l.hash, 'hex'), key, Buffer.from(l.sig, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? null : 'its signature does not verify';
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** `chain#seq` of the first record that does not verify (or the line number, for a torn line). */
  firstBad: string;
  reason: string;
}

/**
 * Verifies links of one chain, in order. The first link present is the anchor (older ones may
 * have been pruned by retention); every later one must follow it exactly.
 */
export function verifyChain(links: Iterable<ChainLink>, key: KeyObject, extra?: (l: ChainLink) => string | null, everySigned = false): VerifyResult {
  let prev: ChainLink | null = null;
  let n = 0;
  for (const l of links) {
    n++;
    const bad = (reason: string): VerifyResult => ({ ok: false, records: n, firstBad: `${l.chain}#${l.seq}`, reason });
    if (prev) {
      if (l.seq !== prev.seq + 1) return bad(`it follows #${prev.seq} (a record was deleted or reordered)`);
      if (l.prev !== prev.hash) return bad('its prev hash is not the hash of the record before it');
    } else if (l.seq === 1 && l.prev !== '') return bad('the first record has a prev hash');
    const p = (everySigned && l.sig === '' ? 'it is not signed' : null) ?? linkProblem(l, key) ?? extra?.(l) ?? null;
    if (p) return bad(p);
    prev = l;
  }
  if (prev && prev.sig === '') return { ok: false, records: n, firstBad: `${prev.chain}#${prev.seq}`, reason: 'the last record is not signed (records after it were deleted, or it was added by hand)' };
  return { ok: true, records: n, firstBad: '', reason: '' };
}
