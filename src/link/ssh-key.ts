/**
 * SSH encodings of an Ed25519 key: the public key line (`ssh-ed25519 AAAA...`, for known_hosts)
 * from its SPKI DER, and the OpenSSH private key format (`openssh-key-v1`, the one ssh2 reads for
 * Ed25519) from a KeyObject. The agent's SSH host key is its identity key, so the relay already
 * knows every machine's host key and `cmdop ssh-config` can pin it before the first connection.
 */
import { randomBytes, type KeyObject } from 'node:crypto';

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** The raw 32-byte Ed25519 public key inside an SPKI DER (its last 32 bytes). */
export function ed25519Raw(spkiDer: Uint8Array): Buffer {
  if (spkiDer.length !== 44) throw new Error('not an Ed25519 SPKI public key');
  return Buffer.from(spkiDer.subarray(12));
}

/** The public key blob and its `ssh-ed25519 AAAA...` line. */
export function sshPublicKey(spkiDer: Uint8Array): { blob: Buffer; line: string } {
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(ed25519Raw(spkiDer))]);
  return { blob, line: `ssh-ed25519 ${blob.toString('base64')}` };
}

/** The key in the OpenSSH private key format, unencrypted. */
export function opensshPrivateKey(key: KeyObject, comment = ''): string {
  const jwk = key.export({ format: 'jwk' }) as { d?: string; x?: string; crv?: string };
  if (jwk.crv !== 'Ed25519' || !jwk.d || !jwk.x) throw new Error('not an Ed25519 private key');
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const nkeys = Buffer.alloc(4);
  nkeys.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), nkeys, sshString(pubBlob), sshString(priv)]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}
