/**
 * The sftp subsystem on the agent's files policy: every path is resolved by FilesPolicy (the jail,
 * read-only mode), every opened file is checked again by its descriptor (a link swapped in after
 * the check is caught), jailed reads refuse hard-linked files, and a symlink may not point out of
 * the jail. A file opened to be created or truncated is written to a temp beside it and renamed
 * over it on CLOSE, so an upload cut off midway leaves nothing half-written (the temp goes when
 * the session ends). No extensions are advertised; hardlink@openssh.com is refused.
 */
import { constants as FS, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath, rename, rm, rmdir, stat, symlink, unlink, utimes, chmod, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes, SFTPWrapper } from 'ssh2';
import { PermissionError } from '../../errors.js';
import { tempPath } from '../files/ops.js';
import type { ChannelCtx } from './session.js';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;
const MAX_READ = 256 * 1024;
const DIR_BATCH = 100;

interface FileHandleState {
  kind: 'file';
  fh: FileHandle;
  user: string;
  /**
   * Clients pipeline requests on a handle: each runs after the one before, and is answered in the
   * order they came. OpenSSH 9's scp needs that order (it reuses request ids across a transfer,
   * as OpenSSH's own single-threaded sftp-server never answers out of order): concurrent reads or
   * writes here corrupted its transfers.
   */
  barrier: Promise<unknown>;
  /** Created or truncated: written to `temp`, renamed to `final` on close. */
  temp?: { path: string; final: string };
}
interface DirHandleState {
  kind: 'dir';
  path: string;
  names: string[] | null;
  at: number;
}
type Handle = FileHandleState | DirHandleState;

function attrsOf(st: Stats): Attributes {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

function longname(name: string, st: Stats): string {
  const t = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : '-';
  let perm = t;
  for (const shift of [6, 3, 0]) {
    const b = (st.mode >> shift) & 7;
    perm += (b & 4 ? 'r' : '-') + (b & 2 ? 'w' : '-') + (b & 1 ? 'x' : '-');
  }
  const date = new Date(st.mtimeMs).toISOString().slice(0, 16).replace('T', ' ');
  return `${perm} ${String(st.nlink).padStart(3)} ${String(st.uid).padEnd(8)} ${String(st.gid).padEnd(8)} ${String(st.size).padStart(10)} ${date} ${name}`;
}

/** A failure as an SFTP status: missing, not allowed, or a failure with our message. */
function statusOf(err: unknown): { code: number; message: string } {
  const code = (err as { code?: string }).code;
  const message = (err as Error).message ?? String(err);
  if (code === 'ENOENT' || code === 'not_found') return { code: STATUS_CODE.NO_SUCH_FILE, message };
  if (code === 'EACCES' || code === 'EPERM' || code === 'permission' || err instanceof PermissionError) return { code: STATUS_CODE.PERMISSION_DENIED, message };
  return { code: STATUS_CODE.FAILURE, message };
}

export function serveSftp(sftp: SFTPWrapper, ctx: ChannelCtx): void {
  const p = ctx.policy;
  const handles = new Map<number, Handle>();
  let next = 1;
  const mayWrite = ctx.may('files:write');
  const newHandle = (h: Handle) => {
    const id = next++;
    handles.set(id, h);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    return b;
  };
  const get = (b: Buffer) => (b.length === 4 ? handles.get(b.readUInt32BE()) : undefined);
  const file = (b: Buffer): FileHandleState => {
    const h = get(b);
    if (!h || h.kind !== 'file') throw new Error('no such open file');
    return h;
  };
  const fileHandle = (fh: FileHandle, user: string): FileHandleState => ({ kind: 'file', fh, user, barrier: Promise.resolve() });
  /** Runs `fn` after every earlier request on the handle. */
  const inOrder = <T>(h: FileHandleState, fn: () => Promise<T>): Promise<T> => {
    const run = h.barrier.then(fn);
    h.barrier = run.catch(() => undefined);
    return run;
  };
  const fail = (reqid: number, err: unknown) => {
    const s = statusOf(err);
    sftp.status(reqid, s.code, s.message);
  };
  const ok = (reqid: number) => sftp.status(reqid, STATUS_CODE.OK);
  const forWrite = async (path: string, follow = false) => {
    if (!mayWrite) throw new PermissionError(`${path}: this key lacks the files:write grant`);
    return p.resolveForWrite(path, follow);
  };
  /** Runs a request; any throw becomes its status. */
  const on = (event: string, fn: (reqid: number, ...a: never[]) => Promise<void>) =>
    sftp.on(event as 'OPEN', ((reqid: number, ...args: never[]) => {
      fn(reqid, ...args).catch((err: unknown) => fail(reqid, err));
    }) as never);

  on('OPEN', async (reqid, filename: string, flags: number, attrs: Attributes) => {
    const writing = (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND)) !== 0;
    if (!writing) {
      const r = await p.resolve(filename, true);
      const fh = await open(r.path, FS.O_RDONLY);
      try {
        await p.verifyOpen(fh.fd, r);
        const st = await fh.stat();
        p.checkLinks(st, filename);
      } catch (err) {
        await fh.close();
        throw err;
      }
      return void sftp.handle(reqid, newHandle(fileHandle(fh, filename)));
    }
    const r = await forWrite(filename);
    const existing = await stat(r.path).catch(() => null);
    if (existing && flags & OPEN_MODE.EXCL) throw Object.assign(new Error(`${filename} exists`), { code: 'EEXIST' });
    if (!existing && !(flags & OPEN_MODE.CREAT)) throw Object.assign(new Error(`${filename}: no such file`), { code: 'ENOENT' });
    if (!existing || flags & OPEN_MODE.TRUNC) {
      // A new or truncated file: a temp beside it, renamed over it on close.
      const dir = await p.pinDir(dirname(r.path), filename);
      const final = dir.at(basename(r.path));
      const temp = dir.at(basename(tempPath(r.path)));
      const mode = (existing?.mode ?? attrs.mode ?? 0o644) & 0o7777;
      let fh: FileHandle;
      try {
        fh = await open(temp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, mode);
      } catch (err) {
        await dir.close();
        throw err;
      }
      // The pinned names stay valid while the directory descriptor is open: close it with the file.
      const closeDir = dir.close;
      return void sftp.handle(reqid, newHandle({ ...fileHandle(Object.assign(fh, { closeDir }), filename), temp: { path: temp, final } }));
    }
    const fh = await open(r.path, flags & OPEN_MODE.APPEND ? 'a' : 'r+');
    try {
      await p.verifyOpen(fh.fd, r);
    } catch (err) {
      await fh.close();
      throw err;
    }
    sftp.handle(reqid, newHandle(fileHandle(fh, filename)));
  });

  on('READ', async (reqid, handle: Buffer, offset: number, length: number) => {
    const h = file(handle);
    const buf = Buffer.alloc(Math.min(length, MAX_READ));
    const { bytesRead } = await inOrder(h, () => h.fh.read(buf, 0, buf.length, offset));
    if (bytesRead === 0) return void sftp.status(reqid, STATUS_CODE.EOF);
    sftp.data(reqid, buf.subarray(0, bytesRead));
  });

  on('WRITE', async (reqid, handle: Buffer, offset: number, data: Buffer) => {
    const h = file(handle);
    // ssh2 reuses its packet buffer once the event returns; the write runs later in the threadpool.
    const copy = Buffer.from(data);
    await inOrder(h, () => h.fh.write(copy, 0, copy.length, offset));
    ok(reqid);
  });

  on('FSTAT', async (reqid, handle: Buffer) => {
    const h = file(handle);
    sftp.attrs(reqid, attrsOf(await inOrder(h, () => h.fh.stat())));
  });

  on('FSETSTAT', async (reqid, handle: Buffer, attrs: Attributes) => {
    const h = file(handle);
    await inOrder(h, async () => {
      if (attrs.mode !== undefined) await h.fh.chmod(attrs.mode & 0o7777);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) await h.fh.utimes(attrs.atime, attrs.mtime);
      if (attrs.size !== undefined) await h.fh.truncate(attrs.size);
    });
    ok(reqid);
  });

  on('CLOSE', async (reqid, handle: Buffer) => {
    const h = get(handle);
    if (!h) throw new Error('bad handle');
    handles.delete(handle.readUInt32BE());
    if (h.kind === 'dir') return ok(reqid);
    await inOrder(h, () => finish(h, true));
    ok(reqid);
  });

  on('OPENDIR', async (reqid, path: string) => {
    const r = await p.resolve(path, true);
    const st = await stat(r.path);
    if (!st.isDirectory()) throw Object.assign(new Error(`${path}: not a directory`), { code: 'ENOTDIR' });
    sftp.handle(reqid, newHandle({ kind: 'dir', path: r.path, names: null, at: 0 }));
  });

  on('READDIR', async (reqid, handle: Buffer) => {
    const h = get(handle);
    if (!h || h.kind !== 'dir') throw new Error('bad handle');
    h.names ??= ['.', '..', ...(await readdir(h.path))];
    if (h.at >= h.names.length) return void sftp.status(reqid, STATUS_CODE.EOF);
    const batch = h.names.slice(h.at, h.at + DIR_BATCH);
    h.at += batch.length;
    const out = [];
    for (const name of batch) {
      const st = await lstat(join(h.path, name)).catch(() => null);
      if (st) out.push({ filename: name, longname: longname(name, st), attrs: attrsOf(st) });
    }
    sftp.name(reqid, out);
  });

  const statReq = (follow: boolean) => async (reqid: number, path: string) => {
    const r = await p.resolve(path, follow);
    sftp.attrs(reqid, attrsOf(follow ? await stat(r.path) : await lstat(r.path)));
  };
  on('STAT', statReq(true) as never);
  on('LSTAT', statReq(false) as never);

  on('SETSTAT', async (reqid, path: string, attrs: Attributes) => {
    const r = await forWrite(path, true);
    if (attrs.mode !== undefined) await chmod(r.path, attrs.mode & 0o7777);
    if (attrs.atime !== undefined && attrs.mtime !== undefined) await utimes(r.path, attrs.atime, attrs.mtime);
    ok(reqid);
  });

  on('REMOVE', async (reqid, path: string) => {
    await unlink((await forWrite(path)).path);
    ok(reqid);
  });
  on('RMDIR', async (reqid, path: string) => {
    await rmdir((await forWrite(path)).path);
    ok(reqid);
  });
  on('MKDIR', async (reqid, path: string, attrs: Attributes) => {
    await mkdir((await forWrite(path)).path, { mode: attrs.mode ?? 0o755 });
    ok(reqid);
  });
  on('RENAME', async (reqid, from: string, to: string) => {
    const [a, b] = [await forWrite(from), await forWrite(to)];
    if (await lstat(b.path).catch(() => null)) throw Object.assign(new Error(`${to} exists`), { code: 'EEXIST' });
    await rename(a.path, b.path);
    ok(reqid);
  });
  on('REALPATH', async (reqid, path: string) => {
    const abs = p.absolute(path === '' ? '.' : path);
    const real = await realpath(abs).catch(() => abs);
    if (!p.inside(real)) throw new PermissionError(`${path}: outside this agent's allowed file roots`);
    sftp.name(reqid, [{ filename: real, longname: real, attrs: {} as Attributes }]);
  });
  on('READLINK', async (reqid, path: string) => {
    const r = await p.resolve(path, false);
    const target = await readlink(r.path);
    sftp.name(reqid, [{ filename: target, longname: target, attrs: {} as Attributes }]);
  });
  on('SYMLINK', async (reqid, linkPath: string, target: string) => {
    const r = await forWrite(linkPath);
    p.checkNewLink(r.path, target, linkPath);
    await symlink(target, r.path);
    ok(reqid);
  });
  sftp.on('EXTENDED', (reqid: number, name: string) => {
    if (name === 'hardlink@openssh.com' && p.jailed) return sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'hard links are refused under this agent\'s jail');
    sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED, `${name} is not supported`);
  });

  /** Closes a file; a temp is renamed into place (commit) or deleted. */
  async function finish(h: FileHandleState, commit: boolean): Promise<void> {
    const closeDir = (h.fh as FileHandle & { closeDir?: () => Promise<void> }).closeDir;
    try {
      if (h.temp && commit) await h.fh.sync();
      await h.fh.close();
      if (h.temp) {
        if (commit) await rename(h.temp.path, h.temp.final);
        else await rm(h.temp.path, { force: true });
      }
    } finally {
      await closeDir?.();
    }
  }

  // The client is done: answer as sftp-server's exit would (exit-status 0; OpenSSH's scp checks
  // it), then close. ssh2 has no public call for a subsystem's exit status.
  sftp.on('end', () => {
    const raw = sftp as unknown as { _protocol?: { exitStatus(id: number, code: number): void }; outgoing?: { id: number; state: string } };
    if (raw._protocol && raw.outgoing?.state === 'open') raw._protocol.exitStatus(raw.outgoing.id, 0);
    sftp.end();
  });
  sftp.on('close', () => {
    for (const h of handles.values()) if (h.kind === 'file') void finish(h, false).catch(() => {});
    handles.clear();
  });
}
