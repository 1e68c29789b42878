import { describe, expect, it } from 'vitest';
import { backoffDelay, BACKOFF_CAP_MS } from '../../src/link/backoff.js';
import { newSecret, parseSecret, secretMatches, API_KEY_PREFIX } from '../../src/relay/secrets.js';
import { resolveConfig, type Setting } from '../../src/config/resolve.js';
import { Allowlist } from '../../src/agent/tunnel/allowlist.js';
import { normalizeFingerprint } from '../../src/link/fingerprint.js';
import { ValidationError } from '../../src/errors.js';
import { fromWireError, toWireError } from '../../src/protocol/codes.js';
import { AuthError, TimeoutError, InternalError } from '../../src/errors.js';

describe('backoff', () => {
  it('first retries are under a second, later ones grow and are capped at 30 s', () => {
    for (let a = 0; a <= 5; a++) expect(backoffDelay(a, () => 0.999999)).toBeLessThan(1000);
    expect(backoffDelay(8, () => 0.999999)).toBeGreaterThan(backoffDelay(6, () => 0.999999));
    expect(backoffDelay(50, () => 0.999999)).toBeLessThan(BACKOFF_CAP_MS);
    expect(backoffDelay(50, () => 0.999999)).toBeGreaterThan(BACKOFF_CAP_MS - 10);
    expect(backoffDelay(5, () => 0)).toBe(0); // full jitter reaches down to zero
  });
});

describe('secrets', () => {
  it('have 256 random bits, parse back, and match only their own hash', () => {
    const a = newSecret(API_KEY_PREFIX);
    const b = newSecret(API_KEY_PREFIX);
    expect(a.secret).not.toBe(b.secret);
    const p = parseSecret(API_KEY_PREFIX, a.secret)!;
    expect(p.id).toBe(a.id);
    expect(Buffer.from(p.secretPart, 'base64url').length).toBe(32);
    expect(secretMatches(p.secretPart, a.hash)).toBe(true);
    expect(secretMatches(p.secretPart, b.hash)).toBe(false);
    expect(parseSecret('cmdj', a.secret)).toBeNull();
    expect(parseSecret(API_KEY_PREFIX, a.secret + 'x')).toBeNull();
    expect(a.hash).not.toContain(p.secretPart);
  });
});

describe('config precedence', () => {
  const table: Setting[] = [
    { key: 'relay', flag: '--relay', env: 'X_RELAY', type: 'string', default: 'd', help: '' },
    { key: 'n', flag: '--n', env: 'X_N', type: 'number', default: 1, help: '' },
    { key: 'labels', flag: '--labels', env: 'X_L', type: 'map', default: {}, help: '' },
  ];
  it('flag > env > file > default', () => {
    const file = { relay: 'file', n: 3 };
    expect(resolveConfig<{ relay: string }>(table, { relay: 'flag' }, { X_RELAY: 'env' }, file).values.relay).toBe('flag');
    expect(resolveConfig<{ relay: string }>(table, {}, { X_RELAY: 'env' }, file).values.relay).toBe('env');
    const r = resolveConfig<{ relay: string; n: number }>(table, {}, {}, file);
    expect(r.values).toMatchObject({ relay: 'file', n: 3 });
    expect(r.sources).toMatchObject({ relay: 'file', n: 'file', labels: 'default' });
    expect(resolveConfig<{ relay: string }>(table, {}, {}, {}).values.relay).toBe('d');
    expect(resolveConfig<{ labels: Record<string, string> }>(table, { labels: 'a=1,b=2' }, {}, {}).values.labels).toEqual({ a: '1', b: '2' });
  });
  it('bad values are ValidationErrors naming the setting', () => {
    expect(() => resolveConfig(table, { n: 'x' }, {}, {})).toThrow(/--n must be a number/);
    expect(() => resolveConfig(table, {}, {}, { n: 'x' })).toThrow(ValidationError);
    expect(() => resolveConfig(table, {}, {}, { nope: 1 })).toThrow(/unknown setting "nope"/);
  });
});

describe('tunnel allowlist', () => {
  const allow = new Allowlist(['127.0.0.0/8:*', '[::1]:*', 'localhost:*', '10.1.2.3:5432', 'db.internal:5000-5010', '*.svc:80']);
  it('allows what the patterns say and nothing else', () => {
    expect(allow.allowsAddress('127.0.0.1', 22)).toBe(true);
    expect(allow.allowsAddress('127.9.9.9', 65535)).toBe(true);
    expect(allow.allowsAddress('::1', 80)).toBe(true);
    expect(allow.allowsAddress('10.1.2.3', 5432)).toBe(true);
    expect(allow.allowsAddress('10.1.2.3', 5433)).toBe(false);
    expect(allow.allowsAddress('192.168.0.1', 80)).toBe(false);
    expect(allow.allowsName('localhost', 8080)).toBe(true);
    expect(allow.allowsName('db.internal', 5005)).toBe(true);
    expect(allow.allowsName('db.internal', 5011)).toBe(false);
    expect(allow.allowsName('a.svc', 80)).toBe(true);
    expect(allow.allowsName('evil.svc.com', 80)).toBe(false);
  });
  it('rejects malformed patterns', () => {
    expect(() => new Allowlist(['nope'])).toThrow(ValidationError);
    expect(() => new Allowlist(['1.2.3.4:99999'])).toThrow(ValidationError);
  });
});

describe('fingerprints and wire errors', () => {
  it('normalises fingerprint spellings', () => {
    const hex = 'ab'.repeat(32);
    expect(normalizeFingerprint(hex)).toBe(normalizeFingerprint('SHA256:' + hex.toUpperCase().match(/../g)!.join(':')));
    expect(() => normalizeFingerprint('abc')).toThrow(ValidationError);
  });
  it('errors keep their class and retryability across the wire, and unknown errors leak nothing', () => {
    expect(fromWireError(toWireError(new AuthError('nope')))).toBeInstanceOf(AuthError);
    const t = fromWireError(toWireError(new TimeoutError('slow')));
    expect(t).toBeInstanceOf(TimeoutError);
    expect(t.retryable).toBe(true);
    const w = toWireError(new Error('/secret/path exploded'));
    expect(w.message).not.toContain('secret');
    expect(fromWireError(w)).toBeInstanceOf(InternalError);
  });
});
