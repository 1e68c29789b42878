/**
 * The relay node's audit identity: a node id (its chain is `relay:<id>`) and an Ed25519 key
 * that signs its records, both kept in the data dir (0600) so the chain continues across restarts.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic.js';
import { ed25519PublicKey } from '../../link/proof.js';

export interface AuditIdentity {
  chain: string;
  key: KeyObject;
  publicKey: KeyObject;
  /** SPKI DER, base64: written into the chain's start record. */
  publicKeyB64: string;
}

export function loadAuditIdentity(dataDir: string): AuditIdentity {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const idPath = join(dataDir, 'node-id');
  const keyPath = join(dataDir, 'audit-key.pem');
  if (!existsSync(idPath)) writeFileAtomic(idPath, randomBytes(6).toString('hex') + '\n');
  if (!existsSync(keyPath)) writeFileAtomic(keyPath, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  const key = createPrivateKey(readFileSync(keyPath));
  const publicKey = createPublicKey(key);
  return { chain: `relay:${readFileSync(idPath, 'utf8').trim()}`, key, publicKey, publicKeyB64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
}

/** An Ed25519 public key (every key in the audit log is one) from base64 SPKI DER; null if it is not. */
export function publicKeyFromB64(b64: string): KeyObject | null {
  return ed25519PublicKey(Buffer.from(b64, 'base64'));
}
