/** `cmdop tunnel <machine> [LOCAL:]REMOTE_PORT[:REMOTE_HOST]`: a local port that leads to the machine. */
import { UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';

export function parseSpec(spec: string): { localPort: number; remotePort: number; remoteHost: string } {
  const parts = spec.split(':');
  const num = (s: string | undefined, what: string) => {
    const n = Number(s);
    if (!(Number.isInteger(n) && n >= 0 && n <= 65535)) throw new UsageError(`${what} must be a port number, got "${s}"`);
    return n;
  };
  if (parts.length === 1) return { localPort: 0, remotePort: num(parts[0], 'REMOTE_PORT'), remoteHost: '127.0.0.1' };
  if (parts.length === 2) {
    // LOCAL:REMOTE_PORT, or REMOTE_PORT:REMOTE_HOST when the second part is not a number.
    if (/^\d+$/.test(parts[1]!)) return { localPort: num(parts[0], 'LOCAL'), remotePort: num(parts[1], 'REMOTE_PORT'), remoteHost: '127.0.0.1' };
    return { localPort: 0, remotePort: num(parts[0], 'REMOTE_PORT'), remoteHost: parts[1]! };
  }
  if (parts.length === 3) return { localPort: num(parts[0], 'LOCAL'), remotePort: num(parts[1], 'REMOTE_PORT'), remoteHost: parts[2]! };
  throw new UsageError('the tunnel spec is [LOCAL:]REMOTE_PORT[:REMOTE_HOST]');
}

export const tunnelCommand: Command = {
  name: 'tunnel',
  summary: 'forward a local port to a host:port as seen from a machine',
  usage: 'cmdop tunnel <machine> [LOCAL:]REMOTE_PORT[:REMOTE_HOST] [--bind 127.0.0.1]',
  options: { ...CONNECT, bind: { type: 'string' } },
  async run(v, pos) {
    const [machine, spec] = pos;
    if (!machine || !spec || pos.length > 2) throw new UsageError('usage: cmdop tunnel <machine> [LOCAL:]REMOTE_PORT[:REMOTE_HOST]');
    const { localPort, remotePort, remoteHost } = parseSpec(spec);
    if (remotePort === 0) throw new UsageError('REMOTE_PORT must be 1..65535');
    const client = await connect(v);
    try {
      const t = await client.tunnels.open(machine, { localPort, remotePort, remoteHost, localHost: (v.bind as string | undefined) ?? '127.0.0.1' });
      process.stdout.write(`listening on ${t.localHost}:${t.localPort} -> ${machine} ${remoteHost}:${remotePort} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    } finally {
      await client.close();
    }
  },
};
