/** The console's session book: expiry on a fake clock, single-use codes, key revocation, and what it keeps at rest. */
import { describe, expect, it } from 'vitest';
import { CODE_TTL_MS, SESSION_TTL_MS, SessionBook, type ConsoleSession } from '../../src/console/server/sessions.js';
import { cookieOf, sameOrigin } from '../../src/console/server/guard.js';
import type { IncomingMessage } from 'node:http';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('console sessions', () => {
  it('a session lasts until the earlier of its own lifetime and its key\'s expiry', () => {
    let now = 1_000_000;
    const book = new SessionBook(() => now);
    const long = book.open('k1', null);
    const short = book.open('k2', now + 5000);
    expect(long.expiresMs).toBe(now + SESSION_TTL_MS);
    expect(book.get(short.cookie)?.keyId).toBe('k2');
    now += 5000;
    expect(book.get(short.cookie)).toBeNull();
    expect(book.get(long.cookie)?.keyId).toBe('k1');
    now += SESSION_TTL_MS;
    expect(book.get(long.cookie)).toBeNull();
  });

  it('a sign-in code works once, and not after a minute', () => {
    let now = 0;
    const book = new SessionBook(() => now);
    const a = book.newCode();
    expect(book.redeem(a)).toBe(true);
    expect(book.redeem(a)).toBe(false);
    const b = book.newCode();
    now += CODE_TTL_MS;
    expect(book.redeem(b)).toBe(false);
    expect(book.redeem(undefined)).toBe(false);
    expect(book.redeem('made-up')).toBe(false);
  });

  it('closing a key ends its sessions; the store holds digests, never a cookie', () => {
    let saved: Record<string, ConsoleSession> = {};
    const store = { load: () => saved, save: (all: Record<string, ConsoleSession>) => void (saved = structuredClone(all)) };
    const book = new SessionBook(() => 0, store);
    const a = book.open('k1', null);
    const b = book.open('k2', null);
    expect(JSON.stringify(saved)).not.toContain(a.cookie);
    expect(Object.keys(saved)).toHaveLength(2);
    // A restart reads them back.
    const again = new SessionBook(() => 0, store);
    expect(again.get(a.cookie)?.keyId).toBe('k1');
    again.closeKey('k1');
    expect(again.get(a.cookie)).toBeNull();
    expect(again.get(b.cookie)?.keyId).toBe('k2');
    expect(Object.values(saved).map((s) => s.keyId)).toEqual(['k2']);
  });

  it('same-origin means the Origin header names this very host and scheme', () => {
    expect(sameOrigin(req({ origin: 'https://relay:8443', host: 'relay:8443' }), true)).toBe(true);
    expect(sameOrigin(req({ origin: 'http://relay:8443', host: 'relay:8443' }), true)).toBe(false);
    expect(sameOrigin(req({ origin: 'https://evil:8443', host: 'relay:8443' }), true)).toBe(false);
    expect(sameOrigin(req({ host: 'relay:8443' }), true)).toBe(false);
    expect(sameOrigin(req({ origin: 'null', host: 'relay:8443' }), true)).toBe(false);
    expect(cookieOf(req({ cookie: 'a=1; cmdop_console=xyz; b=2' }))).toBe('xyz');
    expect(cookieOf(req({ cookie: 'cmdop_consolex=1' }))).toBeUndefined();
  });
});

describe('console sign-in limiter', async () => {
  const { SignInLimiter, MAX_FAILURES, WINDOW_MS, MAX_ADDRESSES } = await import('../../src/console/server/limiter.js');

  it('refuses an address past its failures until the oldest leaves the window; success clears it; others are unaffected', () => {
    let now = 1_000_000;
    const l = new SignInLimiter(() => now);
    for (let i = 0; i < MAX_FAILURES - 1; i++) {
      l.failed('10.0.0.1');
      now += 1000;
    }
    expect(l.retryAfter('10.0.0.1')).toBe(0);
    l.failed('10.0.0.1');
    expect(l.retryAfter('10.0.0.1')).toBe(WINDOW_MS - (MAX_FAILURES - 1) * 1000);
    expect(l.retryAfter('10.0.0.2')).toBe(0);
    now += WINDOW_MS - (MAX_FAILURES - 1) * 1000 + 1; // the first failure has left the window
    expect(l.retryAfter('10.0.0.1')).toBe(0);
    l.failed('10.0.0.1');
    expect(l.retryAfter('10.0.0.1')).toBeGreaterThan(0);
    l.succeeded('10.0.0.1');
    expect(l.retryAfter('10.0.0.1')).toBe(0);
  });

  it('holds at most MAX_ADDRESSES addresses (the oldest goes)', () => {
    const l = new SignInLimiter(() => 0);
    for (let i = 0; i < MAX_ADDRESSES + 50; i++) l.failed(`a${i}`);
    expect(l.size).toBe(MAX_ADDRESSES);
  });
});
