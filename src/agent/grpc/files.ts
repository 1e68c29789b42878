/**
 * Files for the official SDK, on our files layer (through our SDK on the agent's own socket), so
 * the jail, the read-only policy, hard-link refusal, atomic writes and audit apply unchanged.
 * Typed failures are gRPC statuses (status.ts); the SDK raises its own typed errors from them.
 */
import { extname, posix } from 'node:path';
import type { terminal } from './gen/terminal.js';
import type { FileEntry } from '../../client/files-types.js';
import { TooLargeError, ValidationError } from '../../errors.js';
import { timestamp, type GrpcCtx } from './context.js';
import { MAX_OUTPUT_LIMIT } from './output.js';

const TYPE: Record<FileEntry['type'], number> = { file: 1, dir: 2, symlink: 3, other: 1 };
const MIME: Record<string, string> = {
  '.txt': 'text/plain', '.md': 'text/markdown', '.json': 'application/json', '.js': 'text/javascript', '.ts': 'text/typescript',
  '.html': 'text/html', '.css': 'text/css', '.csv': 'text/csv', '.xml': 'application/xml', '.yaml': 'application/yaml', '.yml': 'application/yaml',
  '.sh': 'text/x-shellscript', '.py': 'text/x-python', '.log': 'text/plain', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
  '.gif': 'image/gif', '.svg': 'image/svg+xml', '.pdf': 'application/pdf', '.zip': 'application/zip', '.gz': 'application/gzip', '.tar': 'application/x-tar',
};

export function mimeOf(e: Pick<FileEntry, 'type' | 'name'>): string {
  if (e.type === 'dir') return 'inode/directory';
  if (e.type === 'symlink') return 'inode/symlink';
  return MIME[extname(e.name).toLowerCase()] ?? 'application/octet-stream';
}

/** `-rw-r--r--`, as ls prints it. Pure. */
export function permissionString(type: FileEntry['type'], mode: number): string {
  const kind = type === 'dir' ? 'd' : type === 'symlink' ? 'l' : '-';
  let out = kind;
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    out += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  return out;
}

/** The bits that apply to this process (owner, group or other; root may read and write all). */
function may(e: FileEntry, bit: 4 | 2): boolean {
  const uid = process.getuid?.() ?? -1;
  if (uid === 0) return true;
  const shift = e.uid === uid ? 6 : (process.getgroups?.() ?? []).includes(e.gid) ? 3 : 0;
  return ((e.mode >> shift) & bit) !== 0;
}

export function streamEntry(e: FileEntry): terminal.IStreamFileEntry {
  return {
    name: posix.basename(e.path) || e.name, // a search answer's name is its path under the root
    path: e.path,
    type: TYPE[e.type],
    size: e.size,
    permissions: permissionString(e.type, e.mode),
    owner: e.owner,
    modifiedAt: timestamp(e.mtime),
    isHidden: e.name.startsWith('.'),
    isReadable: may(e, 4),
    isWritable: may(e, 2),
    mimeType: mimeOf(e),
    symlinkTarget: e.target ?? '',
  };
}

/** The depth of `path` under `root` (a child is 1). Pure. */
function depthUnder(root: string, path: string): number {
  const rel = posix.relative(root, path);
  return rel ? rel.split('/').length : 0;
}

export function fileHandlers(ctx: GrpcCtx) {
  const files = async () => (await ctx.client()).files;
  return {
    async FileListDirectory(req: terminal.FileListDirectoryRpcRequest): Promise<terminal.IFileListDirectoryRpcResponse> {
      const page = await (await files()).list(req.path, { hidden: req.includeHidden, ...(req.pageSize > 0 ? { limit: req.pageSize } : {}), ...(req.pageToken ? { cursor: req.pageToken } : {}) });
      const entries = page.entries.map(streamEntry);
      return { success: true, result: { currentPath: req.path, entries, nextPageToken: page.nextCursor ?? '', totalCount: entries.length, hasMore: !!page.nextCursor } };
    },

    async FileRead(req: terminal.FileReadRpcRequest): Promise<terminal.IFileReadRpcResponse> {
      const f = await files();
      const info = await f.info(req.path);
      const offset = Math.max(0, Number(req.offset) || 0);
      const want = Number(req.length) > 0 ? Math.min(Number(req.length), Math.max(0, info.size - offset)) : Math.max(0, info.size - offset);
      if (want > MAX_OUTPUT_LIMIT) {
        throw new TooLargeError(`${req.path} is ${info.size} bytes; one FileRead answers at most ${MAX_OUTPUT_LIMIT} (the SDK's 4 MiB message limit): read it in parts with { offset, length }`, { detail: 'file_too_large' });
      }
      const content = await f.read(req.path, { offset, ...(Number(req.length) > 0 ? { length: want } : {}), maxBytes: MAX_OUTPUT_LIMIT });
      return { success: true, result: { content, encoding: 'binary', totalSize: info.size, mimeType: mimeOf(info), isTruncated: offset + content.length < info.size } };
    },

    async FileWrite(req: terminal.FileWriteRpcRequest): Promise<terminal.IFileWriteRpcResponse> {
      const f = await files();
      const r = await f.write(req.path, req.content, { overwrite: req.overwrite, createParents: req.createParents });
      return { success: true, result: { bytesWritten: r.size, entry: streamEntry(await f.info(r.path)) } };
    },

    async FileCreateDirectory(req: terminal.FileCreateDirectoryRpcRequest): Promise<terminal.IFileCreateDirectoryRpcResponse> {
      return { success: true, result: { entry: streamEntry(await (await files()).mkdir(req.path, { parents: req.createParents })) } };
    },

    async FileDelete(req: terminal.FileDeleteRpcRequest): Promise<terminal.IFileDeleteRpcResponse> {
      const f = await files();
      const info = await f.info(req.path);
      await f.delete(req.path, { recursive: req.recursive });
      const dir = info.type === 'dir';
      return { success: true, result: { deletedPath: info.path, filesDeleted: dir ? 0 : 1, dirsDeleted: dir ? 1 : 0 } };
    },

    async FileMove(req: terminal.FileMoveRpcRequest): Promise<terminal.IFileMoveRpcResponse> {
      return { success: true, result: { entry: streamEntry(await (await files()).move(req.sourcePath, req.destinationPath, { overwrite: req.overwrite })) } };
    },

    async FileCopy(req: terminal.FileCopyRpcRequest): Promise<terminal.IFileCopyRpcResponse> {
      const e = await (await files()).copy(req.sourcePath, req.destinationPath, { overwrite: req.overwrite, recursive: req.recursive });
      return { success: true, result: { entry: streamEntry(e), bytesCopied: e.type === 'file' ? e.size : 0 } };
    },

    async FileGetInfo(req: terminal.FileGetInfoRpcRequest): Promise<terminal.IFileGetInfoRpcResponse> {
      return { success: true, result: { entry: streamEntry(await (await files()).info(req.path)) } };
    },

    async FileSearch(req: terminal.FileSearchRpcRequest): Promise<terminal.IFileSearchRpcResponse> {
      const started = Date.now();
      const r = await (await files()).search(req.path, {
        // A filename pattern matches names at any depth (`*.log`); one with a slash, paths.
        ...(req.filenamePattern ? { glob: req.filenamePattern.includes('/') ? req.filenamePattern : `**/${req.filenamePattern}` } : {}),
        ...(req.contentPattern ? { content: req.contentPattern } : {}),
        ...(req.maxResults > 0 ? { limit: req.maxResults } : {}),
        hidden: req.includeHidden,
      });
      const matches = r.matches
        .filter((m) => req.maxDepth <= 0 || depthUnder(req.path, m.entry.path) <= req.maxDepth)
        .map((m) => ({ entry: streamEntry(m.entry), matchType: m.line ? 2 : 1, contentMatches: m.line ? [{ lineNumber: m.line, line: m.text ?? '' }] : [] }));
      return { success: true, result: { matches, totalMatches: matches.length, truncated: r.truncated, searchPath: req.path, durationMs: Date.now() - started } };
    },

    /** One source (a file or a directory) into a zip or tar.gz on the machine, written atomically. */
    async FileCreateArchive(req: terminal.FileCreateArchiveRpcRequest): Promise<terminal.IFileCreateArchiveRpcResponse> {
      if (req.sourcePaths.length !== 1) throw new ValidationError(`FileCreateArchive takes one source path here (got ${req.sourcePaths.length}): archive their common directory`);
      const format = req.format || 'zip';
      if (format !== 'zip' && format !== 'tar.gz') throw new ValidationError(`archive format "${format}" is not served: use zip or tar.gz`);
      const f = await files();
      // Streamed from the archiver into the atomic write: constant memory for any size.
      const w = await f.write(req.destinationPath, await f.archive(req.sourcePaths[0]!, { format }), { overwrite: false });
      return { success: true, result: { entry: streamEntry(await f.info(w.path)), bytesArchived: w.size } };
    },
  };
}
