/** files.search: walk a tree and match by glob, by name, and/or by content (all given must match). */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import picomatch from 'picomatch';
import { ValidationError } from '../../errors.js';
import type { cmdop } from '../../protocol/gen/cmdop.js';
import { entryFromStats } from './entry.js';
import { onPath } from '../../fs-errors.js';
import { O_NOFOLLOW, type FilesPolicy } from './policy.js';
import { walk } from './walk.js';

export const DEFAULT_SEARCH_LIMIT = 1000;
/** Content search skips files larger than this (logs, images, databases). */
export const CONTENT_MAX_FILE = 8 * 1024 * 1024;
const LINE_TEXT_MAX = 500;

export async function search(policy: FilesPolicy, req: cmdop.v1.SearchFilesRequest): Promise<cmdop.v1.ISearchFilesResponse> {
  if (!req.glob && !req.name && !req.content) throw new ValidationError('search needs a glob, a name or a content string');
  const r = await policy.resolve(req.root || '~', true);
  const limit = Math.min(req.limit || DEFAULT_SEARCH_LIMIT, 10_000);
  const globMatch = req.glob ? picomatch(req.glob, { dot: req.hidden }) : null;
  const name = req.name.toLowerCase();
  const matches: cmdop.v1.ISearchMatch[] = [];
  let truncated = false;
  await onPath(r.user, async () => {
    for await (const e of walk(r.path, { recursive: true, hidden: req.hidden, guard: policy.guard })) {
      if (globMatch && !globMatch(e.rel)) continue;
      if (name && !e.name.toLowerCase().includes(name)) continue;
      if (!req.content) {
        matches.push({ entry: await entryFromStats(e.path, e.stats, e.rel) });
      } else {
        if (!e.stats.isFile() || e.stats.size > CONTENT_MAX_FILE || !policy.mayRead(e.stats)) continue;
        const entry = await entryFromStats(e.path, e.stats, e.rel);
        for await (const hit of grep(e.path, req.content)) {
          matches.push({ entry, line: hit.line, text: hit.text });
          if (matches.length > limit) break;
        }
      }
      if (matches.length > limit) {
        truncated = true;
        matches.length = limit;
        break;
      }
    }
  });
  return { matches, truncated };
}

/** Lines of a text file that contain `needle` (binary files, with a NUL early on, are skipped). */
async function* grep(path: string, needle: string): AsyncGenerator<{ line: number; text: string }> {
  const fh = await open(path, constants.O_RDONLY | O_NOFOLLOW).catch(() => null);
  if (!fh) return; // vanished, unreadable, or swapped for a symlink
  const input = fh.createReadStream({ encoding: 'utf8', highWaterMark: 64 * 1024 });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (n === 1 && text.includes('\0')) return;
      if (text.includes(needle)) yield { line: n, text: text.length > LINE_TEXT_MAX ? text.slice(0, LINE_TEXT_MAX) : text };
    }
  } catch {
    // unreadable file: no matches from it
  } finally {
    lines.close();
    input.destroy();
  }
}
