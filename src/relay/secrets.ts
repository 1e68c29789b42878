/**
 * Secrets (API keys, join tokens): 256 random bits, shown once, stored as SHA-256, compared in
 * constant time. A secret reads `<prefix>_<id>_<secret>`: the id finds the record without
 * touching the secret, and the prefix lets secret scanners spot a leaked one.
 * SHA-256 (not a slow hash) is right here: the secret has 256 bits of entropy, so there is
 * nothing to brute-force.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'cmdk';
export const JOIN_TOKEN_PREFIX = 'cmdj';
const SECRET_BYTES = 32;
const ID_BYTES = 8;

export interface NewSecret {
  id: string;
  hash: string;
  /** The full string to hand to the user, once. */
  secret: string;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newSecret(prefix: string): NewSecret {
  const id = randomBytes(ID_BYTES).toString('hex');
  const secretPart = randomBytes(SECRET_BYTES).toString('base64url');
  return { id, hash: hashSecret(secretPart), secret: `${prefix}_${id}_${secretPart}` };
}

/** Splits a presented secret into id and secret part, or null if it is not one of ours. */
export function parseSecret(prefix: string, presented: string): { id: string; secretPart: string } | null {
  const m = /^([a-z]+)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(presented);
  if (!m || m[1] !== prefix) return null;
  return { id: m[2]!, secretPart: m[3]! };
}

/** Constant-time comparison of a presented secret part with a stored hash. */
export function secretMatches(secretPart: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secretPart), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
