/** Builds single executables for tests when missing or older than the sources (npm registry only, cached). */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './procs.js';

function newestSource(dir = join(ROOT, 'src')): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export const binPath = (program: string, target: string) => join(ROOT, 'dist/bin', `${program}-${target}${target.startsWith('win') ? '.exe' : ''}`);

/** Ensures `program` is built for each target; returns their paths. */
export function ensureBinaries(program: 'agent' | 'relay' | 'cmdop', targets: string[]): string[] {
  const name = { agent: 'cmdop-agent', relay: 'cmdop-relay', cmdop: 'cmdop' }[program];
  const newest = newestSource();
  const stale = targets.filter((t) => !existsSync(binPath(name, t)) || statSync(binPath(name, t)).mtimeMs < newest);
  if (stale.length) execFileSync(process.execPath, [join(ROOT, 'scripts/package.mjs'), '--targets', stale.join(','), '--programs', program], { stdio: ['ignore', 'ignore', 'inherit'] });
  return targets.map((t) => binPath(name, t));
}
