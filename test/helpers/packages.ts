/**
 * Vitest global setup: the suite runs real programs from Debian. A missing one fails the run at
 * once with one line naming its package, never a skipped test or a stack trace deep in a case.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

function found(what: string): boolean {
  if (what.startsWith('/')) {
    // One glob level (`/usr/lib/postgresql/*/bin/pg_ctl`).
    const star = what.indexOf('*');
    if (star < 0) return existsSync(what);
    const parent = what.slice(0, star);
    const rest = what.slice(star + 1);
    try {
      return readdirSync(parent).some((d) => existsSync(parent + d + rest));
    } catch {
      return false;
    }
  }
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, what)));
}

export function missingPackages(): string[] {
  const lines = readFileSync(join(ROOT, 'scripts/debian-packages.txt'), 'utf8').split('\n');
  const missing: string[] = [];
  for (const line of lines) {
    const [pkg, what] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (pkg && what && !found(what)) missing.push(`${pkg} (for ${what})`);
  }
  return missing;
}

export default function setup(): void {
  if (process.platform !== 'linux') return;
  const missing = missingPackages();
  if (missing.length > 0) {
    throw new Error(`missing Debian packages the tests use: ${missing.join(', ')}; install them with: sudo bash scripts/setup-and-test.sh`);
  }
}
