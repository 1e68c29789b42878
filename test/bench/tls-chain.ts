/**
 * The ceiling for any relayed tunnel written in Node: a listener in this process, a relay and an
 * agent side, each a process, joined by two TLS hops that do nothing but `pipe()` (one TLS
 * connection per tunnelled connection, no multiplexing, no protocol). Our tunnel is measured
 * against it in the same run, to show how much of the gap to a direct connection is the design
 * (two TLS hops through Node on these cores) and how much is our code.
 *
 * The agent side can also run a program in a pty and join it to the connection: the ceiling for
 * terminal output and keystroke echo through the same topology.
 *
 * Run as a child with `relay` or `agent` as its first argument; `startChain` runs the rest.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { track } from './peers.js';
import { connect as netConnect, createServer, type Server } from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pty from '@lydell/node-pty';
import { loadOrCreateTls } from '../../src/relay/tls.js';
import { serveFile } from './tls-chain-files.js';

/** First byte on a connection to the relay: the agent's control link, an agent data link, a client. */
const CONTROL = 0x41;
const DATA = 0x44;
const CLIENT = 0x43;
const NEED = Buffer.from('N');

/** Pinned to the one certificate; the name is not what is checked here. */
function pinned(ca: string): tls.ConnectionOptions {
  return { ca, checkServerIdentity: () => undefined };
}

function relay(cert: string, key: string): void {
  let control: tls.TLSSocket | null = null;
  const waiting: tls.TLSSocket[] = [];
  const server = tls.createServer({ cert, key }, (s) => {
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      if (d[0] === CONTROL) control = s;
      else if (d[0] === CLIENT) {
        waiting.push(s);
        s.pause();
        control!.write(NEED);
      } else if (d[0] === DATA) {
        const c = waiting.shift()!;
        c.pipe(s);
        s.pipe(c);
        c.resume();
      }
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as { port: number }).port));
}

/** What the agent side joins each connection to: a TCP port, or a program in a pty (bytes both ways, as our agent moves them). */
export type ChainTarget = { port: number } | { pty: [string, ...string[]] } | { files: string };

function agent(cert: string, relayPort: number, target: ChainTarget): void {
  const dial = (first: number, then: (s: tls.TLSSocket) => void) => {
    const s = tls.connect({ port: relayPort, host: '127.0.0.1', ...pinned(cert) }, () => {
      s.write(Buffer.from([first]));
      then(s);
    });
    s.on('error', () => undefined);
  };
  dial(CONTROL, (ctl) => {
    ctl.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i++) {
        dial(DATA, (s) => {
          if ('files' in target) return serveFile(s, target.files);
          if ('pty' in target) {
            const [file, ...args] = target.pty;
            const p = pty.spawn(file, args, { cols: 120, rows: 40, encoding: null });
            p.onData((d) => s.write(d as unknown as Buffer));
            p.onExit(() => s.end());
            s.on('data', (d: Buffer) => p.write(d as unknown as string));
            s.on('close', () => p.kill());
            return;
          }
          const t = netConnect({ port: target.port, host: '127.0.0.1', noDelay: true });
          t.on('error', () => s.destroy());
          t.pipe(s);
          s.pipe(t);
        });
      }
    });
    process.send!('ready');
  });
}

function next<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`tls chain child exited (${code})`)));
  });
}

export interface Chain {
  /** Local port: each connection goes through the chain to the target. */
  port: number;
  /** A connection straight to the relay, joined to the target (no local listener hop). */
  connect(): Promise<tls.TLSSocket>;
  /** The relay and agent-side processes. */
  pids: { relay: number; agent: number };
  /** The relay's port and the pinned certificate, for a client in another process. */
  relayPort: number;
  cert: string;
  stop(): void;
}

/** Starts a bare TLS chain to `target`. */
export async function startChain(target: ChainTarget): Promise<Chain> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-chain-'));
  const { cert, key } = await loadOrCreateTls(dir);
  const self = fileURLToPath(import.meta.url);
  const env = { ...process.env, CHAIN_CERT: cert, CHAIN_KEY: key };
  const r = track(fork(self, ['relay'], { env }));
  const a = track(fork(self, ['agent'], { env }));
  let server: Server | undefined;
  const stop = () => {
    server?.close();
    r.kill();
    a.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const relayPort = await next<number>(r);
    a.send({ relayPort, target });
    await next<string>(a);
    const connect = () =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ port: relayPort, host: '127.0.0.1', ...pinned(cert) }, () => {
          s.setNoDelay(true);
          s.write(Buffer.from([CLIENT]));
          resolve(s);
        });
        s.once('error', reject);
      });
    server = createServer({ noDelay: true }, (local) => {
      local.pause();
      local.on('error', () => undefined);
      void connect().then(
        (s) => {
          s.on('error', () => local.destroy());
          local.on('error', () => s.destroy());
          local.pipe(s);
          s.pipe(local);
          local.resume();
        },
        () => local.destroy(),
      );
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as { port: number }).port, connect, pids: { relay: r.pid!, agent: a.pid! }, relayPort, cert, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

const role = process.argv[2];
// Exit on stop rather than die by the signal, so a run under --cpu-prof writes its profile.
if (role === 'relay' || role === 'agent') process.once('SIGTERM', () => process.exit(0));
if (role === 'relay') relay(process.env.CHAIN_CERT!, process.env.CHAIN_KEY!);
else if (role === 'agent') process.once('message', (m: { relayPort: number; target: ChainTarget }) => agent(process.env.CHAIN_CERT!, m.relayPort, m.target));
