/**
 * The floor for relay memory per link: a bare https + ws server (Node's defaults, no protocol)
 * holding idle TLS WebSockets from another process, with the relay's certificate type (P-256).
 * Measured the way the relay is: RSS before and after a herd of N links, after the same settle.
 *
 * Run as a child: `server DIR` (prints "listening PORT") or `swarm URL N` (prints "open N" once
 * all are open, each from its own loopback address as the bench's simulated agents dial).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { loadOrCreateTls } from '../../src/relay/tls.js';
import { rssNow } from '../helpers/procs.js';
import { track } from './peers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lineFrom(child: ChildProcess, re: RegExp): Promise<RegExpMatchArray> {
  let text = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = (text += d.toString()).match(re);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`bench: bare-links child exited (${code}) before ${re}`)));
  });
}

/** RSS per link (KB) of the bare server: after N links, `settleMs` after the last opened (`env`: the server's, added). */
export async function bareLinksRss(dir: string, n: number, settleMs: number, env: NodeJS.ProcessEnv = {}): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const server = track(fork(self, ['server', dir], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, ...env } }));
  let swarm: ChildProcess | undefined;
  try {
    const [, port] = await lineFrom(server, /listening (\d+)/);
    // Time is the subject here, not a stand-in for an event: the base RSS is read a fixed second
    // after start, and the loaded one `settleMs` after the last link, exactly as for our relay.
    await sleep(1000);
    const base = rssNow(server.pid!);
    swarm = track(fork(self, ['swarm', `wss://127.0.0.1:${port}`, String(n)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] }));
    await lineFrom(swarm, /open \d+/);
    await sleep(settleMs);
    return (rssNow(server.pid!) - base) / 1024 / n;
  } finally {
    swarm?.kill('SIGKILL');
    server.kill('SIGKILL');
  }
}

async function serve(dir: string): Promise<void> {
  const tls = await loadOrCreateTls(dir);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const links = new Set<WebSocket>();
  const server = createServer({ cert: tls.cert, key: tls.key });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => (links.add(ws), ws.on('close', () => links.delete(ws)))));
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
}

function dial(url: string, n: number): void {
  const base = 1 + (process.pid % 250);
  let open = 0;
  const links: WebSocket[] = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url, { rejectUnauthorized: false, localAddress: `127.${base}.${(i >> 8) & 255}.${i & 255}`, perMessageDeflate: false });
    ws.on('open', () => ++open === n && process.stdout.write(`open ${n}\n`));
    ws.on('error', (e) => process.stderr.write(`bare-links: ${e.message}\n`));
    links.push(ws);
  }
  setInterval(() => undefined, 60_000);
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'server') await serve(a!);
else if (mode === 'swarm') dial(a!, Number(b));
