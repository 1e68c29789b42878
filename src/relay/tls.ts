/**
 * The relay's TLS identity: the operator's cert/key, or a self-signed one generated on first
 * start and kept in the data dir (key 0600), so its fingerprint stays the same across restarts
 * and agents can pin it (the normal case for an air-gapped relay).
 */
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../platform/atomic.js';
import { hostname } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { ValidationError } from '../errors.js';
import { fingerprintOfPem } from '../link/fingerprint.js';

/** Lifetime of a generated certificate. Pinning is by fingerprint, so expiry is not what protects it. */
const SELF_SIGNED_YEARS = 10;

export interface TlsMaterial {
  cert: string;
  key: string;
  fingerprint: string;
  generated: boolean;
}

export async function loadOrCreateTls(dataDir: string, certFile?: string, keyFile?: string, extraNames: string[] = []): Promise<TlsMaterial> {
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new ValidationError('give both --cert and --key, or neither');
    try {
      const cert = readFileSync(certFile, 'utf8');
      return { cert, key: readFileSync(keyFile, 'utf8'), fingerprint: fingerprintOfPem(cert), generated: false };
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new ValidationError(`cannot read TLS certificate or key: ${(err as Error).message}`, { cause: err });
    }
  }
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    return { cert, key: readFileSync(keyPath, 'utf8'), fingerprint: fingerprintOfPem(cert), generated: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = [...new Set(['localhost', hostname(), ...extraNames])];
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(notBefore);
  notAfter.setFullYear(notAfter.getFullYear() + SELF_SIGNED_YEARS);
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'cmdop-relay' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [...names.map((n) => ({ type: 2 as const, value: n })), { type: 7 as const, ip: '127.0.0.1' }, { type: 7 as const, ip: '::1' }] },
    ],
  });
  writeFileAtomic(keyPath, pems.private, { mode: 0o600 });
  writeFileAtomic(certPath, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, fingerprint: fingerprintOfPem(pems.cert), generated: true };
}
