import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/platform/atomic.js';
import { tempDir } from '../helpers/tmp.js';

describe('writeFileAtomic (platform layer)', () => {
  it('writes the whole content with the exact mode, replaces the old file, and leaves no temp', () => {
    const { dir, cleanup } = tempDir();
    const f = join(dir, 'identity.key');
    writeFileSync(f, 'old');
    writeFileAtomic(f, 'new key material');
    expect(readFileSync(f, 'utf8')).toBe('new key material');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    writeFileAtomic(f, 'x', { mode: 0o644 });
    expect(statSync(f).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['identity.key']);
    cleanup();
  });

  it('a failed write leaves the old content and no temp behind', () => {
    const { dir, cleanup } = tempDir();
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const f = join(sub, 'state.json');
    writeFileSync(f, 'old');
    mkdirSync(join(sub, 'blocker'));
    // The destination is a directory: rename fails, and the old state file and the directory are untouched.
    expect(() => writeFileAtomic(join(sub, 'blocker'), 'new')).toThrow();
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(readdirSync(sub).sort()).toEqual(['blocker', 'state.json']);
    if (process.getuid?.() !== 0) {
      chmodSync(sub, 0o500); // not writable: the temp cannot even be made
      expect(() => writeFileAtomic(f, 'new')).toThrow();
      chmodSync(sub, 0o700);
      expect(readFileSync(f, 'utf8')).toBe('old');
    }
    cleanup();
  });
});
