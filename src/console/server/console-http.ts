/**
 * The web console's HTTP side, the same for the relay (`cmdop-relay serve --ui`) and for
 * `cmdop ui`: the app's files under /ui/, sign-in (an API key on the relay, a single-use code
 * with `cmdop ui`) exchanged for an HttpOnly SameSite=Strict session cookie, and the check that
 * admits a browser's link upgrade on /ui/link (same origin, a live session, a key in force).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { sea } from '../../packaging/runtime.js';
import { SignInLimiter } from './limiter.js';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { AuthError, PermissionError, UnavailableError, type CmdopError } from '../../errors.js';
import { SessionBook, type ConsoleSession, type SessionStore } from './sessions.js';
import { SECURITY_HEADERS, cookieOf, readJson, sameOrigin, sendJson, setCookie } from './guard.js';

export const CONSOLE_LINK_PATH = '/ui/link';

export interface ConsoleKey {
  keyId: string;
  name: string;
  expiresMs: number | null;
}

export interface ConsoleAuth {
  /** Relay mode: checks a key typed into the sign-in form. */
  signInWithKey?: (key: string) => Promise<ConsoleKey>;
  /** The key behind a session, if it is still in force (else throws AuthError). */
  keyOf(keyId: string): ConsoleKey;
  /** `cmdop ui`: the key a redeemed sign-in code opens a session for. */
  codeKey?: () => ConsoleKey;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };
const FILES = ['index.html', 'app.js', 'app.js.map', 'style.css', 'xterm.css', 'asciinema-player.css'];

/** dist/console, beside dist/src (the built app). */
export function consoleAssetsDir(): string {
  return fileURLToPath(new URL('../../../console/', import.meta.url));
}

export class ConsoleHttp {
  readonly sessions: SessionBook;
  private readonly limiter: SignInLimiter;
  private readonly assets = new Map<string, Buffer>();

  /**
   * @param secure served over TLS (the relay); `cmdop ui` is plain HTTP on 127.0.0.1, which
   *   browsers treat as a secure context, so its cookie is still marked Secure.
   */
  constructor(private readonly auth: ConsoleAuth, private readonly secure: boolean, private readonly now: () => number = Date.now, dir?: string, private readonly secureCookie = true, store?: SessionStore) {
    this.sessions = new SessionBook(now, store);
    this.limiter = new SignInLimiter(now);
    const packed = sea();
    if (packed) {
      // A single executable carries the console as SEA assets (scripts/package.mjs).
      for (const f of FILES) {
        try {
          this.assets.set(f, Buffer.from(packed.getAsset(`console/${f}`)));
        } catch {
          // not packed (the source map)
        }
      }
    } else {
      dir ??= consoleAssetsDir();
      for (const f of FILES) if (existsSync(join(dir, f))) this.assets.set(f, readFileSync(join(dir, f)));
    }
    if (!this.assets.has('index.html')) throw new UnavailableError(`the web console is not built (${dir ?? 'the single executable has none'}): run npm run build`);
  }

  /** Answers /ui and everything under it; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path !== '/ui' && !path.startsWith('/ui/')) return false;
    void this.route(req, res, path, url.searchParams).catch((err: CmdopError) => sendJson(res, 500, { code: 'internal', message: err.message }));
    return true;
  }

  /** The session a browser's link upgrade carries, or the error to refuse it with. */
  admitLink(req: IncomingMessage): ConsoleSession {
    if (!sameOrigin(req, this.secure)) throw new PermissionError('cross-origin link refused');
    const s = this.sessions.get(cookieOf(req));
    if (!s) throw new AuthError('not signed in');
    this.auth.keyOf(s.keyId);
    return s;
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string, q: URLSearchParams): Promise<void> {
    const post = req.method === 'POST';
    if (post && !sameOrigin(req, this.secure)) return sendJson(res, 403, { code: 'permission', message: 'cross-origin request refused' });
    switch (path) {
      case '/ui':
        return void res.writeHead(302, { location: '/ui/' }).end();
      case '/ui/':
        return this.file(res, 'index.html');
      case '/ui/api/me':
        return this.me(req, res);
      case '/ui/api/signin':
        return post ? this.signIn(req, res) : sendJson(res, 405, { code: 'validation', message: 'POST only' });
      case '/ui/api/signout':
        if (!post) return sendJson(res, 405, { code: 'validation', message: 'POST only' });
        this.sessions.close(cookieOf(req));
        return sendJson(res, 200, { ok: true }, { 'set-cookie': setCookie('', 0, this.secureCookie) });
      case '/ui/signin':
        return this.redeem(res, q.get('code') ?? undefined);
      default:
        return this.file(res, path.slice('/ui/'.length));
    }
  }

  private file(res: ServerResponse, name: string): void {
    const body = this.assets.get(name);
    if (!body) return sendJson(res, 404, { code: 'not_found', message: 'no such page' });
    const ext = name.slice(name.lastIndexOf('.'));
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': name === 'index.html' ? 'no-store' : 'no-cache' });
    res.end(body);
  }

  private me(req: IncomingMessage, res: ServerResponse): void {
    const s = this.sessions.get(cookieOf(req));
    if (!s) return sendJson(res, 401, { code: 'auth', message: 'not signed in' });
    try {
      const k = this.auth.keyOf(s.keyId);
      sendJson(res, 200, { keyId: k.keyId, name: k.name, expiresMs: s.expiresMs });
    } catch (err) {
      this.sessions.closeKey(s.keyId);
      sendJson(res, 401, { code: 'auth', message: (err as Error).message });
    }
  }

  private async signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.auth.signInWithKey) return sendJson(res, 404, { code: 'not_found', message: 'sign in with the link cmdop ui printed' });
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return sendJson(res, 415, { code: 'validation', message: 'JSON only' });
    const addr = req.socket.remoteAddress ?? '';
    const wait = this.limiter.retryAfter(addr);
    if (wait > 0) return sendJson(res, 429, { code: 'rate_limit', message: `too many failed sign-ins from this address: try again in ${Math.ceil(wait / 1000)} s` }, { 'retry-after': String(Math.ceil(wait / 1000)) });
    const body = await readJson(req);
    if (!body || typeof body.key !== 'string') return sendJson(res, 400, { code: 'validation', message: 'send {"key": "cmdop_..."}' });
    let k: ConsoleKey;
    try {
      k = await this.auth.signInWithKey(body.key);
    } catch (err) {
      this.limiter.failed(addr);
      return sendJson(res, 401, { code: (err as CmdopError).code ?? 'auth', message: (err as Error).message });
    }
    this.limiter.succeeded(addr);
    this.startSession(res, k, () => sendJson(res, 200, { keyId: k.keyId, name: k.name }));
  }

  /** `cmdop ui`'s printed link: a single-use code, spent at once for the cookie. */
  private redeem(res: ServerResponse, code: string | undefined): void {
    if (!this.auth.codeKey || !this.sessions.redeem(code)) return sendJson(res, 401, { code: 'auth', message: 'this sign-in link was used or has expired: run cmdop ui again' });
    const k = this.auth.codeKey();
    this.startSession(res, k, () => {
      res.writeHead(303, { ...SECURITY_HEADERS, location: '/ui/', 'cache-control': 'no-store' });
      res.end();
    });
  }

  private startSession(res: ServerResponse, k: ConsoleKey, answer: () => void): void {
    const s = this.sessions.open(k.keyId, k.expiresMs);
    res.setHeader('set-cookie', setCookie(s.cookie, s.expiresMs - this.now(), this.secureCookie));
    answer();
  }
}
