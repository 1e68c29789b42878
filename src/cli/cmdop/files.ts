/** The small file commands: ls, cat, rm, mv, mkdir, watch (paths as machine:path). */
import { pipeline } from 'node:stream/promises';
import { UsageError, printJson, table, type Command } from '../args.js';
import { requireRemote } from '../remote-path.js';
import type { FileEntry } from '../../client/files-types.js';
import { CONNECT, connect, type Values } from './connect.js';
import type { Client } from '../../client/client.js';

async function withMachine<T>(v: Values, machine: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connect(v);
  try {
    client.files.setMachine(machine);
    return await fn(client);
  } finally {
    await client.close();
  }
}

const TYPE_CHAR: Record<FileEntry['type'], string> = { file: '-', dir: 'd', symlink: 'l', other: '?' };

function modeString(e: FileEntry): string {
  const bits = 'rwxrwxrwx';
  let s = TYPE_CHAR[e.type];
  for (let i = 0; i < 9; i++) s += e.mode & (1 << (8 - i)) ? bits[i] : '-';
  return s;
}

export const lsCommand: Command = {
  name: 'ls',
  summary: 'list a directory on a machine',
  usage: 'cmdop ls [-l] [-a] [-R] [--json] machine:path',
  options: { ...CONNECT, long: { type: 'boolean', short: 'l' }, all: { type: 'boolean', short: 'a' }, recursive: { type: 'boolean', short: 'R' }, json: { type: 'boolean' } },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop ls machine:path');
    const r = requireRemote(pos[0]);
    await withMachine(v, r.machine, async (c) => {
      const entries: FileEntry[] = [];
      for await (const e of c.files.iter(r.path, { hidden: v.all === true, recursive: v.recursive === true })) entries.push(e);
      if (v.json) return printJson(entries);
      if (!v.long) return void process.stdout.write(entries.map((e) => e.name + (e.type === 'dir' ? '/' : '')).join('\n') + (entries.length ? '\n' : ''));
      process.stdout.write(
        table(entries.map((e) => [modeString(e), e.owner || String(e.uid), String(e.size), e.mtime.toISOString().slice(0, 16).replace('T', ' '), e.name + (e.target ? ` -> ${e.target}` : '')])),
      );
    });
  },
};

export const catCommand: Command = {
  name: 'cat',
  summary: 'print a file from a machine',
  usage: 'cmdop cat machine:path',
  options: { ...CONNECT },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop cat machine:path');
    const r = requireRemote(pos[0]);
    await withMachine(v, r.machine, async (c) => pipeline(await c.files.readStream(r.path), process.stdout, { end: false }));
  },
};

export const rmCommand: Command = {
  name: 'rm',
  summary: 'delete a file or (with -r) a directory tree on a machine',
  usage: 'cmdop rm [-r] machine:path',
  options: { ...CONNECT, recursive: { type: 'boolean', short: 'r' } },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop rm [-r] machine:path');
    const r = requireRemote(pos[0]);
    await withMachine(v, r.machine, (c) => c.files.delete(r.path, { recursive: v.recursive === true }));
  },
};

export const mvCommand: Command = {
  name: 'mv',
  summary: 'rename or move a path on a machine',
  usage: 'cmdop mv [--force] machine:src machine:dst',
  options: { ...CONNECT, force: { type: 'boolean', short: 'f' } },
  async run(v, pos) {
    if (pos.length !== 2) throw new UsageError('usage: cmdop mv machine:src machine:dst');
    const a = requireRemote(pos[0], 'SRC');
    const b = requireRemote(pos[1], 'DST');
    if (a.machine !== b.machine) throw new UsageError('mv works within one machine; use cp then rm between machines');
    await withMachine(v, a.machine, (c) => c.files.move(a.path, b.path, { overwrite: v.force === true }));
  },
};

export const mkdirCommand: Command = {
  name: 'mkdir',
  summary: 'create a directory on a machine',
  usage: 'cmdop mkdir [-p] machine:path',
  options: { ...CONNECT, parents: { type: 'boolean', short: 'p' } },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop mkdir [-p] machine:path');
    const r = requireRemote(pos[0]);
    await withMachine(v, r.machine, (c) => c.files.mkdir(r.path, { parents: v.parents === true }));
  },
};

export const watchCommand: Command = {
  name: 'watch',
  summary: 'print changes under a path on a machine until Ctrl-C',
  usage: 'cmdop watch [-r] [--json] machine:path',
  options: { ...CONNECT, recursive: { type: 'boolean', short: 'r' }, json: { type: 'boolean' } },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop watch [-r] machine:path');
    const r = requireRemote(pos[0]);
    await withMachine(v, r.machine, async (c) => {
      const w = await c.files.watch(r.path, { recursive: v.recursive === true });
      const stop = () => w.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      for await (const e of w) process.stdout.write(v.json ? `${JSON.stringify(e)}\n` : `${e.type}\t${e.path}\n`);
    });
  },
};
