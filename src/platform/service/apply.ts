/** Applies an install/uninstall plan: for real, or under a fake root (where commands are only listed). */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InternalError } from '../../errors.js';
import { writeFileAtomic } from '../atomic.js';
import type { Step } from './plan.js';

/** A layout path under a fake root: `C:\ProgramData\x` becomes `<root>/C/ProgramData/x`. */
export function rooted(root: string | undefined, p: string): string {
  if (!root) return p;
  return join(root, ...p.replace(/^([A-Za-z]):/, '$1').split(/[\\/]/).filter(Boolean));
}

export interface Applied {
  /** Commands that were run (or, under a fake root, only listed). */
  commands: string[][];
}

export function applyPlan(steps: Step[], root?: string): Applied {
  const commands: string[][] = [];
  for (const s of steps) {
    const p = 'path' in s ? rooted(root, s.path) : '';
    switch (s.kind) {
      case 'mkdir':
        mkdirSync(p, { recursive: true, mode: s.mode });
        break;
      case 'write':
        writeFileAtomic(p, s.content, { mode: s.mode });
        break;
      case 'copy':
        rmSync(p, { force: true }); // a running binary cannot be overwritten in place, but can be replaced
        copyFileSync(s.from, p);
        chmodSync(p, s.mode);
        break;
      case 'remove':
        rmSync(p, { force: true, recursive: s.recursive ?? false });
        break;
      case 'run': {
        commands.push(s.argv);
        if (root) break;
        const r = spawnSync(s.argv[0]!, s.argv.slice(1), { stdio: 'inherit' });
        if ((r.status !== 0 || r.error) && !s.ignoreFailure) throw new InternalError(`${s.argv.join(' ')} failed${r.error ? `: ${r.error.message}` : ` with exit code ${r.status}`}`);
        break;
      }
    }
  }
  return { commands };
}
