/** Process helpers for the bench (RSS from /proc, CLI paths). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/bench -> repository root. */
export const ROOT = join(fileURLToPath(import.meta.url), '../../../..');
export const CLI = (name: string) => join(ROOT, 'dist/src/cli', `${name}.js`);

/** Resident set size of a process, in bytes (Linux). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
