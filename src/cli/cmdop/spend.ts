/** `cmdop spend <machine> [--since DATE] [--until DATE] [--by day|model|session] [--json]`. */
import { printJson, table, UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';

function parseDate(s: string | undefined, what: string): Date | undefined {
  if (s === undefined) return undefined;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${what} must be a date, e.g. 2026-11-01`);
  return d;
}

export const spendCommand: Command = {
  name: 'spend',
  summary: "a machine's AI spend: tokens and cost by day, model or session",
  usage: 'cmdop spend <machine> [--since 2026-11-01] [--until DATE] [--by day|model|session] [--json]',
  options: { ...CONNECT, since: { type: 'string' }, until: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean' } },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop spend <machine>');
    const by = (v.by as string | undefined) ?? 'day';
    if (!['day', 'model', 'session'].includes(by)) throw new UsageError('--by is day, model or session');
    const client = await connect(v);
    try {
      const r = await client.machines.spend(pos[0]!, { since: parseDate(v.since as string | undefined, '--since'), until: parseDate(v.until as string | undefined, '--until'), groupBy: by as 'day' });
      if (v.json) return printJson(r);
      const row = (g: NonNullable<typeof r.total>) => [g.key ?? '', String(g.calls), String(g.promptTokens), String(g.completionTokens), (g.cost ?? 0).toFixed(4) + (g.unpriced ? ' *' : '') + (g.estimated ? ' ~' : '')];
      process.stdout.write(table([[by.toUpperCase(), 'CALLS', 'PROMPT', 'COMPLETION', 'COST'], ...(r.groups ?? []).map(row), row(r.total!)]));
      if ((r.groups ?? []).some((g) => g.unpriced)) process.stdout.write('* some calls used a model with no price in the agent config (cost counted as 0)\n');
      if ((r.groups ?? []).some((g) => g.estimated)) process.stdout.write('~ some token counts were estimated\n');
      if (r.budgetDaily) process.stdout.write(`daily budget ${r.budgetDaily}, spent today ${(r.spentToday ?? 0).toFixed(4)}\n`);
    } finally {
      await client.close();
    }
  },
};
