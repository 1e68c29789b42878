/**
 * Shared CLI plumbing: argument parsing with node:util parseArgs, --help on every command, and the
 * rule that every failure is one line on stderr with a non-zero exit (no stack traces).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CmdopError, ValidationError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number | void>;
}

/** Exit codes: 1 = the operation failed, 2 = the command line was wrong. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends ValidationError {}

export function parse(cmd: Command, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (see ${cmd.name} --help)`);
  }
}

export function helpText(program: string, commands: Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [`usage: ${program} <command> [options]`, '', 'commands:', ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`), '', `${program} <command> --help for a command's options`].join('\n');
}

function commandHelp(cmd: Command): string {
  const opts = Object.entries(cmd.options).map(([k, o]) => `  --${k}${o.type === 'string' ? ' <value>' : ''}`);
  return [`usage: ${cmd.usage}`, '', cmd.summary, ...(opts.length ? ['', 'options:', ...opts] : []), '  --help'].join('\n');
}

/** Runs a multi-command program; prints one-line errors and sets the exit code. */
export async function runProgram(program: string, commands: Command[], argv: string[], version: string): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(helpText(program, commands) + '\n');
    process.exitCode = name ? 0 : EXIT_USAGE;
    return;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${program} ${version}\n`);
    return;
  }
  // The longest matching name wins: "fleets members add" before "fleets members" before "fleets".
  const words = argv;
  const cmd = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length).find((c) => c.name.split(' ').every((w, i) => words[i] === w));
  if (!cmd) {
    process.stderr.write(`${program}: unknown command "${name}" (see ${program} --help)\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  const args = argv.slice(cmd.name.split(' ').length);
  try {
    const { values, positionals } = parse(cmd, args);
    if (values.help) {
      process.stdout.write(commandHelp(cmd) + '\n');
      return;
    }
    const code = await cmd.run(values, positionals);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    process.exitCode = err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
    process.stderr.write(`${program}: ${describeError(err)}\n`);
    if (process.env.CMDOP_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof CmdopError) return `${err.code}: ${err.message}`;
  return `internal: ${err instanceof Error ? err.message : String(err)}`;
}

/** Parses durations like 90s, 15m, 24h, 7d (or plain milliseconds). */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new UsageError(`not a duration: "${s}" (use e.g. 30s, 15m, 24h, 7d)`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Math.round(Number(m[1]) * mult);
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

/** A plain text table, columns padded to their widest cell. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export function ago(d: Date | null, now = Date.now()): string {
  if (!d) return 'never';
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/**
 * The words after `--` as one shell command line: a single word is taken as a command line
 * already (`-- 'a | b'`); several are quoted for /bin/sh where they need it.
 */
export function commandLine(words: readonly string[]): string {
  return words.length === 1 ? words[0]! : words.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}
