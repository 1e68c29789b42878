/**
 * `cmdop exec --fleet F -- cmd`: the command on every machine of a fleet, lines prefixed with
 * their host (never interleaved mid-line), then a summary; exit 1 unless every machine succeeded.
 * `--json` prints one record per machine instead.
 */
import type { Client } from '../../client/client.js';
import type { FanoutResult } from '../../client/fanout.js';
import { table } from '../args.js';

export function printSummary(results: readonly FanoutResult[], json: boolean): number {
  const bad = results.filter((r) => r.status !== 'ok');
  if (json) {
    for (const r of results) process.stdout.write(JSON.stringify({ machine: r.machine.id, hostname: r.machine.hostname, status: r.status, exitCode: r.exitCode, signal: r.signal || undefined, error: r.error ?? undefined, durationMs: r.durationMs }) + '\n');
  } else {
    const why = (r: FanoutResult) => (r.status === 'failed' ? (r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`) : r.error?.message ?? '');
    process.stderr.write(`\n${results.length - bad.length}/${results.length} ok\n`);
    if (bad.length) process.stderr.write(table([['HOST', 'STATUS', 'DETAIL'], ...bad.map((r) => [r.machine.hostname, r.status, why(r)])]));
  }
  return bad.length ? 1 : 0;
}

export async function fleetExec(client: Client, fleet: string, command: string, o: { parallel?: number; timeoutMs?: number; json: boolean }): Promise<number> {
  const results = await client.fleets.exec(fleet, command, {
    ...(o.parallel ? { parallel: o.parallel } : {}),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.json ? {} : { onLine: (m, line) => void process.stdout.write(`${m.hostname}: ${line}\n`) }),
  });
  return printSummary(results, o.json);
}
