import { describe, expect, it } from 'vitest';
import { fsError } from '../../src/fs-errors.js';

const errno = (code: string) => Object.assign(new Error(`${code}: raw message with /secret/path`), { code });

describe('fs errors map to typed errors with the user path', () => {
  it.each([
    ['ENOENT', 'FileNotFoundError', 'not_found', 'file_not_found'],
    ['EACCES', 'PermissionDeniedError', 'permission', 'permission_denied'],
    ['EPERM', 'PermissionDeniedError', 'permission', 'permission_denied'],
    ['EROFS', 'PermissionDeniedError', 'permission', 'permission_denied'],
    ['EEXIST', 'AlreadyExistsError', 'conflict', 'already_exists'],
    ['ENOTDIR', 'NotADirectoryError', 'validation', 'not_a_directory'],
    ['EISDIR', 'IsADirectoryError', 'validation', 'is_a_directory'],
    ['ENOTEMPTY', 'DirectoryNotEmptyError', 'conflict', 'directory_not_empty'],
    ['EFBIG', 'FileTooLargeError', 'too_large', 'file_too_large'],
    ['ENOSPC', 'NoSpaceError', 'unavailable', 'no_space'],
    ['EDQUOT', 'NoSpaceError', 'unavailable', 'no_space'],
  ])('%s -> %s', (code, name, wire, detail) => {
    const e = fsError(errno(code), '~/notes.txt');
    expect(e).toMatchObject({ name, code: wire, detail });
    expect(e.message).toMatch(/^~\/notes\.txt: /);
    expect(e.message).not.toContain('/secret/path');
  });

  it('anything else is internal, with no raw text', () => {
    const e = fsError(errno('EIO'), 'x');
    expect(e).toMatchObject({ code: 'internal' });
    expect(e.message).not.toContain('secret');
  });
});
