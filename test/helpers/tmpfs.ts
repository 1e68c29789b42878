/**
 * A real small filesystem for full-disk tests: a tmpfs of a given size, mounted where asked.
 * Needs root (CI runs as root); elsewhere `canMount()` is false and the caller skips, saying why.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let mountable: boolean | null = null;

export function canMount(probeDir: string): boolean {
  if (mountable !== null) return mountable;
  const at = join(probeDir, 'tmpfs-probe');
  mkdirSync(at, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', at], { stdio: 'ignore' });
    execFileSync('umount', [at], { stdio: 'ignore' });
    mountable = true;
  } catch {
    mountable = false;
  }
  rmSync(at, { recursive: true, force: true });
  return mountable;
}

/** Mounts a tmpfs of `bytes` at `at`; returns the unmount. */
export function mountTmpfs(at: string, bytes: number): () => void {
  mkdirSync(at, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', at]);
  return () => execFileSync('umount', ['-l', at]);
}

/** Fills the filesystem at `dir` until a write fails with ENOSPC (a really full disk). */
export function fill(dir: string): void {
  const block = Buffer.alloc(4096, 1);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(dir, `filler-${i}`), block);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw err;
    }
  }
}
