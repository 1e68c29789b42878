/**
 * Opens the WebSocket under a link: URL checks, TLS trust (system CAs, a CA file, or a pinned
 * SHA-256 fingerprint), HTTPS_PROXY / NO_PROXY via CONNECT, and a bounded time to connect.
 * DNS is resolved afresh by every call (Node keeps no DNS cache), so a relay that moved is found.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import { WebSocket, type ClientOptions } from 'ws';
import { getProxyForUrl } from 'proxy-from-env';
import { AuthError, ConnectionError, ValidationError } from '../errors.js';
import { MAX_FRAME_BYTES } from '../protocol/limits.js';
import { fingerprintOfDer, normalizeFingerprint } from './fingerprint.js';
import type { Transport } from './transport.js';
import { wsTransport } from './ws-transport.js';
import { connectWithReads } from './tls-reads.js';

export interface DialOptions {
  /** wss://host:port, ws://host:port (only with insecure), or ws+unix:///path/to.sock for the local agent. */
  url: string;
  /** Pin the relay's certificate by SHA-256 fingerprint instead of checking it against CAs. */
  fingerprint?: string | undefined;
  /** PEM file of CA certificates to trust instead of the system's. */
  caFile?: string | undefined;
  /** Allow plain ws:// (development only). */
  insecure?: boolean | undefined;
  timeoutMs: number;
  /** The local address to dial from (OpenSSH's BindAddress): a multi-homed host's chosen interface. */
  localAddress?: string | undefined;
  /**
   * Cluster links between relay nodes: the certificate is not checked here because the caller
   * authenticates the link itself, bound to this TLS session (the cluster secret). Never for
   * agents or clients. No proxy is used.
   */
  trustByProof?: boolean;
}

/** TLS verification failures: the relay is reachable but not trusted. */
const TLS_TRUST_ERRORS = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED']);

/** The path every link uses on the relay. */
export const LINK_PATH = '/v1/link';

/**
 * TLS contexts by trust (the system's CAs, or one CA file's content), made once per process: a
 * context loads and parses every trusted CA (~5 ms with a full bundle), which a reconnect loop, or
 * a process holding many links, would otherwise pay on every dial.
 */
const contexts = new Map<string, SecureContext>();
const MAX_CONTEXTS = 8;

function contextFor(ca?: Buffer): SecureContext {
  const id = ca ? ca.toString('base64') : '';
  let ctx = contexts.get(id);
  if (!ctx) {
    if (contexts.size >= MAX_CONTEXTS) contexts.clear();
    ctx = createSecureContext(ca ? { ca } : {});
    contexts.set(id, ctx);
  }
  return ctx;
}

export function linkUrl(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = LINK_PATH;
  return u.toString();
}

export function dialTransport(opts: DialOptions): Promise<Transport> {
  let url: URL;
  try {
    url = new URL(opts.url.startsWith('ws+unix:') ? opts.url : linkUrl(opts.url));
  } catch {
    return Promise.reject(new ValidationError(`not a valid relay URL: ${opts.url}`));
  }
  const wsOpts: ClientOptions & Pick<ConnectionOptions, 'secureContext'> = {
    perMessageDeflate: false,
    maxPayload: MAX_FRAME_BYTES,
    handshakeTimeout: opts.timeoutMs,
    followRedirects: false,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  };
  // Frame masking guards plain-HTTP intermediaries from cache poisoning. Inside TLS (or a local
  // socket) no intermediary sees the bytes, so a zero mask (which ws skips) saves a copy and an
  // XOR pass over every byte sent. Plain ws:// (--insecure, development) keeps random masks.
  if (url.protocol === 'wss:' || url.protocol === 'ws+unix:') wsOpts.generateMask = (mask: Buffer) => void mask.fill(0);
  let pin: string | undefined;
  if (url.protocol === 'wss:') {
    if (opts.trustByProof) {
      wsOpts.rejectUnauthorized = false;
      wsOpts.secureContext = contextFor();
      return open(url, wsOpts, undefined, opts);
    }
    if (opts.fingerprint) {
      pin = normalizeFingerprint(opts.fingerprint);
      // Chain checks are replaced by the pin, which is checked before any credential is sent.
      wsOpts.rejectUnauthorized = false;
    }
    let ca: Buffer | undefined;
    if (!opts.fingerprint && opts.caFile) {
      try {
        ca = readFileSync(opts.caFile); // read at every dial: a CA file replaced on disk is picked up
      } catch (err) {
        return Promise.reject(new ValidationError(`cannot read CA file ${opts.caFile}: ${(err as Error).message}`));
      }
    }
    try {
      wsOpts.secureContext = contextFor(ca);
    } catch (err) {
      return Promise.reject(new ValidationError(`CA file ${opts.caFile} is not PEM certificates: ${(err as Error).message}`));
    }
    const proxy = getProxyForUrl(url.toString().replace(/^wss:/, 'https:'));
    // Loaded only when a proxy is in use.
    if (proxy) return import('https-proxy-agent').then(({ HttpsProxyAgent }) => open(url, { ...wsOpts, agent: new HttpsProxyAgent(proxy) }, pin, opts));
  } else if (url.protocol === 'ws:') {
    if (!opts.insecure) return Promise.reject(new ValidationError('refusing plain ws:// without --insecure; use wss://'));
  } else if (url.protocol !== 'ws+unix:') {
    return Promise.reject(new ValidationError(`unsupported URL scheme ${url.protocol} (use wss://)`));
  }

  return open(url, wsOpts, pin, opts);
}

function open(url: URL, wsOpts: ClientOptions, pin: string | undefined, opts: DialOptions): Promise<Transport> {
  return new Promise((resolve, reject) => {
    // A direct TLS connection reads into our buffers (tls-reads.ts); through a proxy, the proxy
    // agent makes the socket and Node's reads stay.
    if (url.protocol === 'wss:' && !wsOpts.agent) wsOpts = { ...wsOpts, createConnection: connectWithReads as unknown as ClientOptions['createConnection'] };
    const ws = new WebSocket(url, wsOpts);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(err);
    };
    ws.on('upgrade', (res) => {
      if (!pin) return;
      const cert = (res.socket as TLSSocket).getPeerCertificate?.();
      const got = cert?.raw ? fingerprintOfDer(cert.raw) : 'none';
      if (got !== pin) fail(new AuthError(`relay certificate fingerprint ${got} does not match the pinned ${pin}`));
    });
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = Number(res.headers['retry-after'] ?? 0) * 1000;
      fail(new ConnectionError(`relay answered HTTP ${res.statusCode} to the link upgrade`, retryAfter ? { retryAfterMs: retryAfter } : {}));
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code && TLS_TRUST_ERRORS.has(err.code)) {
        fail(new ConnectionError(`relay certificate not trusted (${err.message}): pin it with --fingerprint or trust its CA with --ca`, { cause: err, retryable: false, detail: 'tls_untrusted' }));
      } else {
        fail(new ConnectionError(`cannot connect to ${opts.url}: ${err.message}`, { cause: err }));
      }
    });
    ws.on('open', () => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners('error');
      ws.removeAllListeners('upgrade');
      ws.removeAllListeners('unexpected-response');
      const socket = (ws as unknown as { _socket?: { setNoDelay?: (v: boolean) => void } })._socket;
      socket?.setNoDelay?.(true);
      // Inside TLS or a local socket our own frame path takes the socket over, at once (before
      // any byte after the handshake is read); plain ws:// keeps ws, whose masks are random.
      resolve(wsTransport(ws, wsOpts.generateMask !== undefined));
    });
  });
}
