/**
 * `cmdop cp SRC DST`: copy files between this host and machines (machine:path on one side, or
 * both sides on machines). Directories with -r. Uploads and downloads are atomic on arrival and
 * resumable with --resume. A progress bar with rate and ETA shows on a terminal.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { printSummary } from './fleet-exec.js';
import { basename, join } from 'node:path';
import { posix } from 'node:path';
import type { Client } from '../../client/client.js';
import { IsADirectoryError } from '../../errors.js';
import { onPath } from '../../fs-errors.js';
import { UsageError, type Command } from '../args.js';
import { progressBar } from '../progress.js';
import { parseRemote, type RemotePath } from '../remote-path.js';
import { CONNECT, connect, type Values } from './connect.js';

export const cpCommand: Command = {
  name: 'cp',
  summary: 'copy files to, from or between machines (machine:path)',
  usage: 'cmdop cp [-r] [--resume] [--quiet] SRC DST   (one or both of SRC, DST as machine:path; DST fleet:NAME:path writes to every machine of a fleet)',
  options: { ...CONNECT, recursive: { type: 'boolean', short: 'r' }, resume: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } },
  async run(v, pos) {
    if (pos.length !== 2) throw new UsageError('usage: cmdop cp [-r] [--resume] SRC DST');
    const [srcArg, dstArg] = pos as [string, string];
    const fleet = /^fleet:([^:]+):(.+)$/.exec(dstArg);
    if (fleet) return toFleet(v, srcArg, fleet[1]!, fleet[2]!);
    const src = parseRemote(srcArg);
    const dst = parseRemote(dstArg);
    if (!src && !dst) throw new UsageError('one side must be machine:path (for a local copy, use cp)');
    const client = await connect(v);
    try {
      if (src && dst) await remoteToRemote(client, src, dst, v);
      else if (dst) await uploadPath(client, srcArg, dst, v);
      else await downloadPath(client, src!, dstArg, v);
    } finally {
      await client.close();
    }
  },
};

/** `cmdop cp FILE fleet:NAME:/path`: one file to every machine of a fleet, with a summary. */
async function toFleet(v: Values, file: string, fleet: string, path: string): Promise<number> {
  const data = await readFile(file);
  const client = await connect(v);
  try {
    const results = await client.fleets.write(fleet, path, data, { onResult: (r) => void (r.status === 'ok' && !v.quiet && process.stderr.write(`${r.machine.hostname}: written\n`)) });
    return printSummary(results, false);
  } finally {
    await client.close();
  }
}

async function remoteIsDir(client: Client, r: RemotePath): Promise<boolean> {
  client.files.setMachine(r.machine);
  return client.files.info(r.path).then((e) => e.type === 'dir', () => false);
}

async function uploadPath(client: Client, local: string, dst: RemotePath, v: Values): Promise<void> {
  const st = await onPath(local, () => stat(local));
  let target = dst.path;
  if (target.endsWith('/') || (await remoteIsDir(client, dst))) target = posix.join(target, basename(local));
  client.files.setMachine(dst.machine);
  if (!st.isDirectory()) return uploadFile(client, local, target, v);
  if (!v.recursive) throw new IsADirectoryError(`${local}: is a directory (use -r)`);
  await client.files.mkdir(target, { parents: true });
  for (const e of await readdir(local, { recursive: true, withFileTypes: true })) {
    const abs = join(e.parentPath, e.name);
    const rel = abs.slice(local.length).split(/[\\/]/).filter(Boolean).join('/');
    if (e.isDirectory()) await client.files.mkdir(posix.join(target, rel), { parents: true });
    else if (e.isFile()) await uploadFile(client, abs, posix.join(target, rel), v);
    else process.stderr.write(`cmdop: skipped ${abs} (not a regular file)\n`);
  }
}

async function uploadFile(client: Client, local: string, remote: string, v: Values): Promise<void> {
  const bar = progressBar(basename(local), process.stderr, v.quiet === true);
  let first = true;
  await client.files.upload(local, remote, {
    resume: v.resume === true,
    createParents: true,
    onProgress: (d, t) => {
      if (first && d > 0 && !v.quiet) process.stderr.write(`cmdop: resuming ${basename(local)} at byte ${d} of ${t}\n`);
      first = false;
      bar.update(d, t);
    },
  });
  bar.finish();
}

async function downloadPath(client: Client, src: RemotePath, local: string, v: Values): Promise<void> {
  client.files.setMachine(src.machine);
  const info = await client.files.info(src.path);
  const localSt = await stat(local).catch(() => null);
  const target = localSt?.isDirectory() ? join(local, posix.basename(info.path)) : local;
  if (info.type !== 'dir') return downloadFile(client, src.path, target, v);
  if (!v.recursive) throw new IsADirectoryError(`${src.machine}:${src.path}: is a directory (use -r)`);
  await mkdir(target, { recursive: true });
  for await (const e of client.files.iter(info.path, { recursive: true, hidden: true })) {
    const dest = join(target, ...e.name.split('/'));
    if (e.type === 'dir') await mkdir(dest, { recursive: true });
    else if (e.type === 'file') await downloadFile(client, e.path, dest, v);
    else process.stderr.write(`cmdop: skipped ${e.path} (${e.type})\n`);
  }
}

async function downloadFile(client: Client, remote: string, local: string, v: Values): Promise<void> {
  const bar = progressBar(posix.basename(remote), process.stderr, v.quiet === true);
  await client.files.download(remote, local, { resume: v.resume === true, resumable: true, onProgress: (d, t) => bar.update(d, t) });
  bar.finish();
}

async function remoteToRemote(client: Client, src: RemotePath, dst: RemotePath, v: Values): Promise<void> {
  let target = dst.path;
  if (target.endsWith('/') || (await remoteIsDir(client, dst))) target = posix.join(target, posix.basename(src.path));
  if (src.machine === dst.machine) {
    client.files.setMachine(src.machine);
    await client.files.copy(src.path, target, { recursive: v.recursive === true, overwrite: true });
    return;
  }
  // Between machines: stream from one into the other through this client.
  client.files.setMachine(src.machine);
  const info = await client.files.info(src.path);
  if (info.type === 'dir') throw new UsageError('copying a directory between two machines is not supported; archive it or copy file by file');
  const rs = await client.files.readStream(src.path);
  client.files.setMachine(dst.machine);
  const bar = progressBar(posix.basename(src.path), process.stderr, v.quiet === true);
  let done = 0;
  rs.on('data', (c: Buffer) => bar.update((done += c.length), info.size));
  await client.files.write(target, rs, { createParents: true, mode: info.mode });
  bar.finish();
}
