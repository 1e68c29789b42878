/** Maps errno codes from node:fs to typed file errors, with the user's path in the message (agent and client). */
import {
  AlreadyExistsError,
  DirectoryNotEmptyError,
  FileNotFoundError,
  FileTooLargeError,
  IsADirectoryError,
  NoSpaceError,
  NotADirectoryError,
  PermissionDeniedError,
  CmdopError,
  asCmdopError,
} from './errors.js';

/** The typed error for an fs failure on `path`; anything unmapped becomes `internal` (logged by the service). */
export function fsError(err: unknown, path: string): CmdopError {
  if (err instanceof CmdopError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return new FileNotFoundError(`${path}: no such file or directory`);
    case 'EACCES':
    case 'EPERM':
      return new PermissionDeniedError(`${path}: permission denied`);
    case 'EEXIST':
      return new AlreadyExistsError(`${path}: already exists`);
    case 'ENOTDIR':
      return new NotADirectoryError(`${path}: not a directory`);
    case 'EISDIR':
      return new IsADirectoryError(`${path}: is a directory`);
    case 'ENOTEMPTY':
      return new DirectoryNotEmptyError(`${path}: directory not empty`);
    case 'EFBIG':
      return new FileTooLargeError(`${path}: file too large for this filesystem`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new NoSpaceError(`${path}: no space left on device`);
    case 'ELOOP':
      return new PermissionDeniedError(`${path}: is a symbolic link (not followed here)`);
    case 'EROFS':
      return new PermissionDeniedError(`${path}: read-only filesystem`);
    default:
      return asCmdopError(err, `file operation on ${path}`);
  }
}

/** Runs `fn`, turning fs errors into typed ones about `path`. */
export async function onPath<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fsError(err, path);
  }
}
