/**
 * ssh.connect: an SSH server (ssh2) on one stream, listening on no port. The relay has already
 * authenticated the caller's key and stamped what it may do (`caps`), so SSH authentication is
 * a formality: `none` is accepted and no password or key inside SSH grants anything. Each channel
 * then needs its own capability: a shell or a pty needs `terminal`, exec `exec`, sftp `files:read`
 * (writes `files:write`), forwarding `tunnel`. Sessions run as the agent's own OS user; the login
 * name is ignored. The host key is the agent's Ed25519 identity, which the relay knows, so
 * `cmdop ssh-config` pins it before the first connection.
 */
import ssh2 from 'ssh2';
import type { CipherAlgorithm, Connection } from 'ssh2';
import type { Stream } from '../../protocol/stream.js';
import type { Logger } from '../../log.js';
import { duplexFrom } from '../../link/node-streams.js';
import type { Identity } from '../identity.js';
import { VERSION } from '../../version.js';
import { ProtocolError } from '../../errors.js';
import { serveSession, type SshSessionCtx } from './session.js';
import { serveForwarding } from './forward.js';

/**
 * AES-GCM only, which Node's crypto (OpenSSL, AES-NI) runs natively everywhere; every OpenSSH
 * since 6.2 has it. OpenSSH would otherwise pick chacha20-poly1305 (its first choice), which ssh2
 * runs in JavaScript unless its optional native binding was compiled at install.
 */
const CIPHERS: CipherAlgorithm[] = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'];

/** Handshake plus authentication must finish within this. */
const HANDSHAKE_MS = 20_000;

export type SshCtx = SshSessionCtx;

export class SshService {
  private readonly hostKey: string;

  constructor(identity: Identity, private readonly log: Logger) {
    this.hostKey = identity.sshHostKey();
    const parsed = ssh2.utils.parseKey(this.hostKey);
    if (parsed instanceof Error) throw parsed;
  }

  /** Serves one SSH connection on the stream. */
  handle(stream: Stream, ctx: SshCtx): void {
    const caps = stream.info.caps ? new Set(stream.info.caps) : null; // null: the local socket's owner
    const may = (c: string) => !caps || caps.has(c);
    const caller = stream.info.caller ?? '';
    // An SSH client speaks first, and its first bytes are "SSH-": anything else is not one.
    const socket = duplexFrom(stream, { firstChunk: (c) => (c.length >= 4 && Buffer.from(c.subarray(0, 4)).toString('latin1') !== 'SSH-' ? new ProtocolError('not an SSH client (no SSH- identification)') : null) });
    const server = new ssh2.Server({ hostKeys: [this.hostKey], ident: `cmdop-agent_${VERSION}`, algorithms: { cipher: CIPHERS } }, (client: Connection) => {
      const deadline = setTimeout(() => {
        this.log.warn({ caller }, 'ssh handshake not finished in time; closing');
        client.end();
        socket.destroy();
      }, HANDSHAKE_MS);
      deadline.unref();
      client.on('error', (err) => {
        // Garbage for a banner, a bad packet, a failed key exchange: this connection is over.
        this.log.debug({ err: err.message, caller }, 'ssh connection error');
        socket.destroy();
      });
      client.on('authentication', (a) => {
        // The relay authenticated the caller; SSH's own methods grant nothing more.
        if (a.method === 'none' || a.method === 'password' || a.method === 'publickey' || a.method === 'keyboard-interactive') return a.accept();
        a.reject(['none']);
      });
      client.on('ready', () => {
        clearTimeout(deadline);
        const c: SshSessionCtx & { may: (cap: string) => boolean; caller: string } = { ...ctx, may, caller };
        client.on('session', (accept) => serveSession(accept(), c));
        serveForwarding(client, c);
      });
      client.on('close', () => {
        clearTimeout(deadline);
        socket.destroy();
      });
    });
    server.on('error', (err: Error) => this.log.debug({ err: err.message }, 'ssh server error'));
    socket.on('error', () => {});
    // The client closed its side of the transport (its ssh process is gone): as sshd does on EOF,
    // the connection is over, and every channel's process gets its SIGHUP.
    socket.on('end', () => socket.destroy());
    server.injectSocket(socket as unknown as import('node:net').Socket);
  }
}
