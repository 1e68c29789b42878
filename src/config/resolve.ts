/**
 * Configuration precedence, pure: flag > environment (CMDOP_*) > config file > default.
 * Each program declares a table of settings; `resolveConfig` returns each value and where it
 * came from (for `status` and `doctor`).
 */
import { ValidationError } from '../errors.js';

export type SettingType = 'string' | 'number' | 'boolean' | 'map' | 'list' | 'json';
export type Source = 'flag' | 'env' | 'file' | 'default';

export interface Setting {
  key: string;
  flag: string;
  env: string;
  type: SettingType;
  default?: unknown;
  help: string;
}

export interface Resolved<T> {
  values: T;
  sources: Record<string, Source>;
}

/** Parses a string from a flag or env var into the setting's type. */
export function parseValue(s: Setting, raw: string): unknown {
  switch (s.type) {
    case 'string':
      return raw;
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new ValidationError(`${s.flag} must be a number, got "${raw}"`);
      return n;
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off|)$/i.test(raw)) return false;
      throw new ValidationError(`${s.flag} must be true or false, got "${raw}"`);
    case 'json':
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        throw new ValidationError(`${s.flag} must be JSON`);
      }
    case 'list':
      return raw.split(',').map((x) => x.trim()).filter(Boolean);
    case 'map': {
      const out: Record<string, string> = {};
      for (const pair of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
        const i = pair.indexOf('=');
        if (i <= 0) throw new ValidationError(`${s.flag} takes key=value pairs, got "${pair}"`);
        out[pair.slice(0, i)] = pair.slice(i + 1);
      }
      return out;
    }
  }
}

function checkFileValue(s: Setting, v: unknown, file: string): unknown {
  const ok =
    (s.type === 'string' && typeof v === 'string') ||
    (s.type === 'number' && typeof v === 'number') ||
    (s.type === 'boolean' && typeof v === 'boolean') ||
    (s.type === 'json' && typeof v === 'object' && v !== null) ||
    (s.type === 'list' && Array.isArray(v) && v.every((x) => typeof x === 'string')) ||
    (s.type === 'map' && typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'));
  if (!ok) throw new ValidationError(`${file}: "${s.key}" must be a ${s.type}`);
  return v;
}

export function resolveConfig<T>(
  table: readonly Setting[],
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown>,
  fileName = 'config file',
): Resolved<T> {
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  const known = new Set(table.map((s) => s.key));
  for (const k of Object.keys(file)) if (!known.has(k)) throw new ValidationError(`${fileName}: unknown setting "${k}"`);
  for (const s of table) {
    const f = flags[s.key];
    if (f !== undefined) {
      values[s.key] = typeof f === 'boolean' ? f : parseValue(s, f);
      sources[s.key] = 'flag';
    } else if (env[s.env] !== undefined && env[s.env] !== '') {
      values[s.key] = parseValue(s, env[s.env]!);
      sources[s.key] = 'env';
    } else if (file[s.key] !== undefined) {
      values[s.key] = checkFileValue(s, file[s.key], fileName);
      sources[s.key] = 'file';
    } else {
      values[s.key] = s.default;
      sources[s.key] = 'default';
    }
  }
  return { values: values as T, sources };
}

/** A markdown table of the settings, for the README and --help. */
export function settingsTable(table: readonly Setting[]): string {
  const rows = table.map((s) => `| \`${s.key}\` | \`${s.flag}\` | \`${s.env}\` | ${s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``} | ${s.help} |`);
  return ['| file key | flag | env | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
