import { createHash, X509Certificate } from 'node:crypto';
import { ValidationError } from '../errors.js';

/**
 * Normalises a SHA-256 certificate fingerprint given as hex with or without colons, optionally
 * prefixed "SHA256:", to upper-case colon-separated hex (the form openssl and Node print).
 */
export function normalizeFingerprint(input: string): string {
  const hex = input.trim().replace(/^sha256:/i, '').replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new ValidationError('fingerprint must be a SHA-256 hash: 64 hex digits, colons optional');
  return hex.match(/../g)!.join(':');
}

/** SHA-256 fingerprint of a DER certificate, in normalised form. */
export function fingerprintOfDer(der: Uint8Array): string {
  return normalizeFingerprint(createHash('sha256').update(der).digest('hex'));
}

export function fingerprintOfPem(pem: string): string {
  return normalizeFingerprint(new X509Certificate(pem).fingerprint256);
}
