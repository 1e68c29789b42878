/** How every `audit verify` prints its verdict, and the exit code it gives (0 ok, 1 broken). */
import { printJson } from './args.js';

export interface Verdict {
  ok: boolean;
  records: number;
  chains?: number;
  firstBad: string;
  reason: string;
}

export function printVerdict(r: Verdict, json: boolean): number {
  if (json) printJson(r);
  else if (r.ok) process.stdout.write(`ok: ${r.records} records${r.chains !== undefined ? ` in ${r.chains} chain(s)` : ''} verify\n`);
  else process.stdout.write(`BROKEN at ${r.firstBad}: ${r.reason} (${r.records} records checked)\n`);
  return r.ok ? 0 : 1;
}
