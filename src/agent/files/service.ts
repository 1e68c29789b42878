/** The files service's methods, registered on the agent's service registry. */
import { lstat } from 'node:fs/promises';
import { cmdop } from '../../protocol/gen/cmdop.js';
import type { Logger } from '../../log.js';
import { abortWith, type ServiceRegistry } from '../../link/services.js';
import type { Stream } from '../../protocol/stream.js';
import { copy, hashFile, info, list, makeDir, move, remove } from './ops.js';
import { partialPath, type Partials } from './partials.js';
import type { FilesPolicy } from './policy.js';
import { streamRead } from './read.js';
import { streamWatch } from './watch.js';
import { BUSY_WAIT_MS, streamWrite } from './write.js';
import { ConflictError } from '../../errors.js';

const v1 = cmdop.v1;
const EMPTY = v1.Empty.encode({}).finish();

export interface FilesCtx {
  log: Logger;
  files: { policy: FilesPolicy; partials: Partials };
}

/** A streaming method whose handler is async: any failure aborts the stream with a typed error. */
function streaming<C extends FilesCtx>(r: ServiceRegistry<C>, method: string, fn: (stream: Stream, ctx: C) => Promise<void>): void {
  r.stream('files', method, (stream, ctx) => {
    fn(stream, ctx).catch((err) => abortWith(stream, ctx.log, err, `files.${method}`));
  });
}

export function registerFiles<C extends FilesCtx>(r: ServiceRegistry<C>): ServiceRegistry<C> {
  r.unary('files', 'list', v1.ListFilesRequest, async (req, { files }) => v1.ListFilesResponse.encode(await list(files.policy, req)).finish())
    .unary('files', 'info', v1.FilePathRequest, async (req, { files }) => v1.FileEntry.encode(await info(files.policy, req)).finish())
    .unary('files', 'delete', v1.FilePathRequest, async (req, { files }) => {
      await remove(files.policy, req);
      return EMPTY;
    })
    .unary('files', 'mkdir', v1.FilePathRequest, async (req, { files }) => v1.FileEntry.encode(await makeDir(files.policy, req)).finish())
    .unary('files', 'copy', v1.CopyFileRequest, async (req, { files }) => v1.FileEntry.encode(await copy(files.policy, req)).finish())
    .unary('files', 'move', v1.CopyFileRequest, async (req, { files }) => v1.FileEntry.encode(await move(files.policy, req)).finish())
    .unary('files', 'search', v1.SearchFilesRequest, async (req, { files }) => v1.SearchFilesResponse.encode(await (await import('./search.js')).search(files.policy, req)).finish())
    .unary('files', 'upload_status', v1.FilePathRequest, async (req, { files }) => {
      const r = await files.policy.resolveForWrite(req.path, true);
      const partial = { user: req.path, path: partialPath(r.path) };
      if (!(await files.partials.whenIdle(partial.path, BUSY_WAIT_MS))) throw new ConflictError(`${req.path}: an upload to this path is in progress`);
      const st = await lstat(partial.path).catch(() => null);
      if (!st?.isFile()) return v1.UploadStatus.encode({ offset: 0, sha256: '' }).finish();
      return v1.UploadStatus.encode({ offset: st.size, sha256: await hashFile(files.policy, partial) }).finish();
    });
  streaming(r, 'read', (stream, { files }) => streamRead(stream, files.policy));
  streaming(r, 'write', (stream, { files }) => streamWrite(stream, files));
  // Search (picomatch) and archives (tar-stream, yazl) load on first use: an idle agent does not hold them.
  streaming(r, 'archive', async (stream, { files }) => (await import('./archive.js')).streamArchive(stream, files.policy));
  streaming(r, 'watch', (stream, ctx) => streamWatch(stream, ctx.files.policy, ctx.log));
  return r;
}
