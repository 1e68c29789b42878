/** Process helpers for the bench (RSS from /proc, CLI paths). */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/bench -> repository root. */
export const ROOT = join(fileURLToPath(import.meta.url), '../../../..');
export const CLI = (name: string) => join(ROOT, 'dist/src/cli', `${name}.js`);

/** Resident set size of a process, in bytes (Linux): the helpers' one reader. */
export { rssNow as rssOf } from '../helpers/procs.js';
