/**
 * `cmdop recordings <machine>`: the session recordings a machine keeps.
 * `cmdop play <machine> <session> [--speed 2] [--idle-time-limit 1]`: replays one in this
 * terminal at its own pace (asciinema's options); `--out FILE` saves it instead (`.gz` as stored).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { rename, rm } from 'node:fs/promises';
import { PlaybackClock } from '../../protocol/asciicast.js';
import { printJson, table, UsageError, type Command } from '../args.js';
import { CONNECT, withClient } from './connect.js';

const size = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)}M` : n >= 1024 ? `${(n / 1024).toFixed(1)}K` : `${n}B`);

export const recordingsCommand: Command = {
  name: 'recordings',
  summary: "a machine's terminal session recordings (play one with cmdop play)",
  usage: 'cmdop recordings <machine> [--json]',
  options: { ...CONNECT, json: { type: 'boolean' } },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop recordings <machine>');
    await withClient(v, async (client) => {
      client.terminal.setMachine(pos[0]!);
      const list = await client.terminal.recordings.list();
      if (v.json) return printJson(list);
      const rows = list.map((r) => [r.sessionId, r.startedAt.toISOString().replace(/\.\d+Z$/, 'Z'), `${r.durationSec.toFixed(1)}s`, size(r.bytes), r.status + (r.error ? ` (${r.error})` : ''), r.shell]);
      process.stdout.write(table([['SESSION', 'STARTED', 'LENGTH', 'SIZE', 'STATUS', 'SHELL'], ...rows]));
    });
  },
};

export const playCommand: Command = {
  name: 'play',
  summary: 'replay a terminal session recording here, or save it (asciicast v2)',
  usage: 'cmdop play <machine> <session> [--speed 1] [--idle-time-limit SECONDS] [--out FILE[.gz]]',
  options: { ...CONNECT, speed: { type: 'string' }, 'idle-time-limit': { type: 'string' }, out: { type: 'string' } },
  async run(v, pos) {
    if (pos.length !== 2) throw new UsageError('usage: cmdop play <machine> <session>');
    const speed = v.speed === undefined ? 1 : Number(v.speed);
    const idle = v['idle-time-limit'] === undefined ? Infinity : Number(v['idle-time-limit']);
    if (!(speed > 0 && Number.isFinite(speed))) throw new UsageError('--speed is a positive number, e.g. 2 or 0.5');
    if (!(idle > 0)) throw new UsageError('--idle-time-limit is a positive number of seconds');
    await withClient(v, async (client) => {
      client.terminal.setMachine(pos[0]!);
      if (v.out) return save(await client.terminal.recordings.stream(pos[1]!, { gzip: (v.out as string).endsWith('.gz') }), v.out as string);
      const { events } = await client.terminal.recordings.cast(pos[1]!);
      const clock = new PlaybackClock(speed, idle);
      const start = performance.now();
      for await (const e of events) {
        const at = clock.next(e.time) * 1000;
        const wait = start + at - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        if (e.code !== 'o') continue;
        if (!process.stdout.write(e.data)) await once(process.stdout, 'drain');
      }
    });
  },
};

/** Writes the stream to a temp beside the file, then renames: no partial file on a failure. */
async function save(chunks: AsyncIterable<Uint8Array>, path: string): Promise<void> {
  const tmp = `${path}.${process.pid}.part`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  try {
    for await (const c of chunks) if (!out.write(c)) await once(out, 'drain');
    out.end();
    await once(out, 'close');
    await rename(tmp, path);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}
