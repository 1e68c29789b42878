/**
 * The relay reads agents' Ed25519 public keys by hand (fast path, see link/proof.ts): the key it
 * builds must be the one OpenSSL would decode, and anything else must be refused, never thrown.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { ed25519PublicKey } from '../../src/link/proof.js';

const spki = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) => new Uint8Array(k.export({ format: 'der', type: 'spki' }));

describe('ed25519PublicKey', () => {
  it('builds the same key OpenSSL decodes: it verifies that key\'s signatures and exports the same DER', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const key = ed25519PublicKey(spki(publicKey))!;
    expect(key.asymmetricKeyType).toBe('ed25519');
    expect(Buffer.from(key.export({ format: 'der', type: 'spki' }))).toEqual(Buffer.from(spki(publicKey)));
    const msg = Buffer.from('nonce and claim');
    expect(verify(null, msg, key, sign(null, msg, privateKey))).toBe(true);
    expect(verify(null, Buffer.from('another'), key, sign(null, msg, privateKey))).toBe(false);
  });

  it('refuses other key types, a cut or padded key, and a changed header', () => {
    for (const t of ['x25519', 'ed448'] as const) expect(ed25519PublicKey(spki(generateKeyPairSync(t as 'x25519').publicKey))).toBeNull();
    expect(ed25519PublicKey(spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey))).toBeNull();
    const good = spki(generateKeyPairSync('ed25519').publicKey);
    expect(ed25519PublicKey(good.subarray(0, 43))).toBeNull();
    expect(ed25519PublicKey(new Uint8Array([...good, 0]))).toBeNull();
    const bent = new Uint8Array(good);
    bent[5] = bent[5]! ^ 1;
    expect(ed25519PublicKey(bent)).toBeNull();
    expect(ed25519PublicKey(new Uint8Array(0))).toBeNull();
  });

  it('never throws on arbitrary bytes, and accepts only the 44-byte Ed25519 form (fuzzed, 2,000 cases)', () => {
    const prefix = spki(generateKeyPairSync('ed25519').publicKey).subarray(0, 12);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((k) => new Uint8Array([...prefix, ...k]))), (bytes) => {
        const key = ed25519PublicKey(bytes);
        const ed = bytes.length === 44 && Buffer.from(bytes.subarray(0, 12)).equals(Buffer.from(prefix));
        expect(key !== null).toBe(ed);
      }),
      { numRuns: 2000 },
    );
  });
});
