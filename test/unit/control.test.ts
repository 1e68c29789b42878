/** The control plane's pure core: selectors, capabilities, access, and the audit chain. */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { matches, parseSelector, selectorMatches } from '../../src/control/selector.js';
import { methodCapabilities, missingCapability, parseCapabilities, parseRole } from '../../src/control/capabilities.js';
import { capsOn, canAdminFleet, isGlobalAdmin, keyLive, type AccessData } from '../../src/control/access.js';
import { canonical, linkHash, makeLink, verifyChain, type ChainLink } from '../../src/control/audit/chain.js';
import type { FleetRecord, KeyRecord, MachineRecord, MemberRecord } from '../../src/relay/store/records.js';
import { ValidationError } from '../../src/errors.js';

describe('selectors', () => {
  it('parses equals, not-equals, has and lacks', () => {
    expect(parseSelector('env=prod, role!=db,gpu,!spot')).toEqual([
      { key: 'env', op: '=', value: 'prod' },
      { key: 'role', op: '!=', value: 'db' },
      { key: 'gpu', op: 'exists', value: '' },
      { key: 'spot', op: '!exists', value: '' },
    ]);
    const t = parseSelector('env=prod,role!=db');
    expect(matches(t, { env: 'prod', role: 'web' })).toBe(true);
    expect(matches(t, { env: 'prod' })).toBe(true);
    expect(matches(t, { env: 'prod', role: 'db' })).toBe(false);
    expect(matches(t, { env: 'dev' })).toBe(false);
  });

  it('refuses malformed terms with a ValidationError, and an empty selector matches nothing', () => {
    for (const bad of ['=x', '!a=b', 'a b=c', 'a=b c', 'k=v;rm']) expect(() => parseSelector(bad), bad).toThrow(ValidationError);
    expect(selectorMatches('', { env: 'prod' })).toBe(false);
  });

  it('never throws anything but a ValidationError on random input (bounded)', () => {
    const alphabet = 'ab=!,. -_/x:@';
    for (let i = 0; i < 2000; i++) {
      const s = Array.from({ length: 1 + (i % 16) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
      try {
        parseSelector(s);
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
      }
    }
  });
});

describe('capabilities', () => {
  it('parses lists and all, refusing unknown names', () => {
    expect(parseCapabilities('terminal, files:read')).toEqual(['terminal', 'files:read']);
    expect(parseCapabilities('all')).toHaveLength(9);
    expect(() => parseCapabilities('terminal,root')).toThrow(/unknown capability "root"/);
    expect(() => parseCapabilities('')).toThrow(ValidationError);
    expect(() => parseRole('owner')).toThrow(ValidationError);
  });

  it('needs admin for a method the table does not list', () => {
    expect(methodCapabilities('files', 'write')).toEqual(['files:write']);
    expect(methodCapabilities('brand', 'new')).toEqual(['admin']);
    expect(missingCapability(new Set(['terminal:observe']), 'terminal', 'input')).toBe('terminal');
    expect(missingCapability(new Set(['terminal:observe']), 'terminal', 'attach')).toBeNull();
    expect(missingCapability(new Set(['files:read']), 'files', 'delete')).toBe('files:write');
  });
});

describe('access', () => {
  const m = (id: string, labels: Record<string, string>): MachineRecord => ({ id, hostname: id, name: id, labels, publicKey: id, agentVersion: '', os: '', arch: '', enrolledMs: 0, lastSeenMs: 0, disabled: false });
  const fleet = (id: string, selector: string, disabled = false): FleetRecord => ({ id, name: id, description: '', selector, disabled, createdMs: 0, updatedMs: 0 });
  const key = (grants: KeyRecord['grants'], o: Partial<KeyRecord> = {}): KeyRecord => ({ id: 'k', name: 'k', hash: '', createdMs: 0, expiresMs: null, revoked: false, lastUsedMs: 0, grants, ...o });
  const data = (fleets: FleetRecord[], attached: string[] = [], members: MemberRecord[] = []): AccessData => ({
    fleet: (id) => fleets.find((f) => f.id === id),
    attached: (f, mid) => attached.includes(`${f}/${mid}`),
    memberships: (k) => members.filter((x) => x.keyId === k),
  });

  it('unions grants and membership roles; a disabled fleet gives nothing', () => {
    const d = data([fleet('prod', 'env=prod'), fleet('old', 'env=prod', true), fleet('lab', '')], ['lab/w2']);
    const web = m('w1', { env: 'prod' });
    expect([...capsOn(d, key([{ on: 'fleets', ids: ['prod'], caps: ['exec'] }]), web)]).toEqual(['exec']);
    expect(capsOn(d, key([{ on: 'fleets', ids: ['old'], caps: ['exec'] }]), web).size).toBe(0);
    expect(capsOn(d, key([{ on: 'fleets', ids: ['lab'], caps: ['info'] }]), m('w2', {})).has('info')).toBe(true);
    expect([...capsOn(d, key([{ on: 'selector', selector: 'env!=prod', caps: ['info'] }]), web)]).toEqual([]);
    const dm = data([fleet('prod', 'env=prod')], [], [{ fleetId: 'prod', keyId: 'k', role: 'viewer', addedMs: 0 }]);
    expect([...capsOn(dm, key([]), web)].sort()).toEqual(['info', 'terminal:observe']);
    expect(canAdminFleet(dm, key([]), 'prod')).toBe(false);
    expect(isGlobalAdmin(key([{ on: 'all', caps: ['admin'] }]))).toBe(true);
    expect(isGlobalAdmin(key([{ on: 'fleets', ids: ['prod'], caps: ['admin'] }]))).toBe(false);
  });

  it('an expired or revoked key is not live', () => {
    expect(keyLive(key([], { expiresMs: 10 }), 11)).toBe(false);
    expect(keyLive(key([], { expiresMs: 10 }), 9)).toBe(true);
    expect(keyLive(key([], { revoked: true }), 0)).toBe(false);
  });
});

describe('audit chain', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  function chain(n: number, signEvery = 1): ChainLink[] {
    const out: ChainLink[] = [];
    let head: { seq: number; hash: string } | null = null;
    for (let i = 0; i < n; i++) {
      const l: ChainLink = makeLink('c', head, canonical({ i, b: 'x', a: [2, 1] }), (i + 1) % signEvery === 0 || i === n - 1 ? privateKey : null);
      head = { seq: l.seq, hash: l.hash };
      out.push(l);
    }
    return out;
  }

  it('canonical JSON is independent of key order', () => {
    expect(canonical({ b: 1, a: { d: 2, c: [3, { f: 4, e: 5 }] } })).toBe('{"a":{"c":[3,{"e":5,"f":4}],"d":2},"b":1}');
  });

  it('verifies, and names the first bad record for an edit, a deletion, a reorder and a cut tail', () => {
    const good = chain(10, 4);
    expect(verifyChain(good, publicKey)).toMatchObject({ ok: true, records: 10 });
    const edited = good.map((l, i) => (i === 3 ? { ...l, body: l.body.replace('"x"', '"y"') } : l));
    expect(verifyChain(edited, publicKey)).toMatchObject({ ok: false, firstBad: 'c#4' });
    expect(verifyChain(good.filter((_l, i) => i !== 5), publicKey)).toMatchObject({ ok: false, firstBad: 'c#7' });
    const swapped = [...good];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    expect(verifyChain(swapped, publicKey)).toMatchObject({ ok: false, firstBad: 'c#4' });
    // Cut after an unsigned record: the tail is not vouched for.
    expect(verifyChain(good.slice(0, 5), publicKey)).toMatchObject({ ok: false, firstBad: 'c#5' });
    expect(verifyChain(good, other.publicKey).ok).toBe(false);
  });

  it('an editor who rehashes every later record is caught by the next signature', () => {
    const good = chain(8, 4);
    const forged: ChainLink[] = [];
    let prev = '';
    for (const [i, l] of good.entries()) {
      const body = i === 1 ? l.body.replace('"x"', '"z"') : l.body;
      const hash = linkHash(l.chain, l.seq, prev, body);
      forged.push({ ...l, prev, body, hash });
      prev = hash;
    }
    expect(verifyChain(forged, publicKey)).toMatchObject({ ok: false, firstBad: 'c#4', reason: expect.stringMatching(/signature/) });
  });

  it('never throws on random damage to the records (bounded)', () => {
    const good = chain(6, 2);
    for (let n = 0; n < 300; n++) {
      const links = good.map((l) => ({ ...l }));
      const l = links[(n * 5) % links.length]! as unknown as Record<string, unknown>;
      const field = ['body', 'hash', 'prev', 'sig', 'seq'][n % 5]!;
      l[field] = n % 3 === 0 ? randomBytes(8).toString('base64') : n % 3 === 1 ? 42 : '';
      const r = verifyChain(links, publicKey);
      const changed = JSON.stringify(links) !== JSON.stringify(good);
      // Any change but dropping a signature the batch's last record still covers is caught.
      const harmless = !changed || (field === 'sig' && l.sig === '' && (n * 5) % links.length !== links.length - 1);
      expect(r.ok, `${field} of #${(n * 5) % links.length} = ${String(l[field])}`).toBe(harmless);
    }
  });
});
