/**
 * The idle-RSS peer: a bare Node process that holds one TLS WebSocket to the relay (pinned by
 * fingerprint, as the agent does) and does nothing else. Prints "open" once connected.
 */
import { WebSocket } from 'ws';
import { LINK_PATH } from '../../src/link/dial.js';

const [url] = process.argv.slice(2);
const ws = new WebSocket(url + LINK_PATH, { rejectUnauthorized: false });
ws.on('open', () => process.stdout.write('open\n'));
ws.on('error', (e) => {
  process.stderr.write(`bare-ws: ${e.message}\n`);
  process.exit(1);
});
setInterval(() => undefined, 60_000);
