/**
 * Cluster links authenticate both ways with the cluster secret, bound to the TLS session:
 * each side's proof is an HMAC-SHA256 under the secret over its role, both nonces, both node ids
 * and keying material exported from this TLS session (RFC 5705). A proof seen on one TLS session
 * is worthless on any other, so a node in the middle cannot relay one, and neither side needs to
 * trust the other's certificate for this: the secret is the trust. Pure, but for the crypto.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ValidationError } from '../../errors.js';

const EXPORTER_LABEL = 'EXPORTER-cmdop-cluster-link';
/** A cluster secret shorter than this is refused (it is the whole of the cluster's trust). */
export const MIN_SECRET_BYTES = 32;

export interface ProofInput {
  secret: Buffer;
  /** Keying material exported from this link's TLS session. */
  ekm: Buffer;
  dialerNonce: Uint8Array;
  acceptorNonce: Uint8Array;
  dialerId: string;
  acceptorId: string;
}

export function peerProof(role: 'dialer' | 'acceptor', p: ProofInput): Buffer {
  const h = createHmac('sha256', p.secret);
  for (const part of [`cmdop-cluster-${role}-v1`, p.ekm, p.dialerNonce, p.acceptorNonce, p.dialerId, p.acceptorId]) {
    const b = typeof part === 'string' ? Buffer.from(part) : Buffer.from(part);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.digest();
}

/** Constant-time check of a proof the other side sent. */
export function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(expected, Buffer.from(got.buffer, got.byteOffset, got.byteLength));
}

/** The keying material of a link's TLS socket (cluster links are always TLS). */
export function exportedKey(socket: unknown): Buffer {
  const tls = socket as TLSSocket | undefined;
  if (!tls || typeof tls.exportKeyingMaterial !== 'function') throw new ValidationError('cluster links need TLS');
  return tls.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0));
}

/** Reads the cluster secret file: at least MIN_SECRET_BYTES of text, trimmed. */
export function readClusterSecret(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ValidationError(`cannot read the cluster secret ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (Buffer.byteLength(text) < MIN_SECRET_BYTES) throw new ValidationError(`the cluster secret in ${file} is shorter than ${MIN_SECRET_BYTES} bytes (make one with: openssl rand -hex 32)`);
  return Buffer.from(text);
}
