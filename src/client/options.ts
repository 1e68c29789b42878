/**
 * Where the client's settings come from: explicit argument > env (CMDOP_*) > the default profile
 * (~/.config/cmdop/client.json, written by `npm start`) > built-in default.
 */
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ValidationError } from '../errors.js';
import { writeFileAtomic } from '../platform/atomic.js';
import type { RetryOptions } from './retry.js';
import type { ReconnectOptions } from './connection.js';

/** Per-call timeout when nothing else is said. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ClientOptions extends RetryOptions, ReconnectOptions {
  /** Relay URL (wss://host:port). */
  url?: string | undefined;
  /** API key (cmdk_...). */
  token?: string | undefined;
  /** Pin the relay's certificate by SHA-256 fingerprint (self-signed relays). */
  fingerprint?: string | undefined;
  /** PEM file of CAs to trust instead of the system's. */
  caFile?: string | undefined;
  /** Per-call timeout in ms. */
  timeoutMs?: number | undefined;
  /** Allow plain ws:// (development only). */
  insecure?: boolean | undefined;
}

export interface Profile {
  url: string;
  token: string;
  fingerprint?: string;
}

export function profilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CMDOP_PROFILE ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'cmdop', 'client.json');
}

export function readProfile(path = profilePath()): Profile | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Profile;
  } catch {
    throw new ValidationError(`client profile ${path} is not valid JSON`);
  }
}

export function writeProfile(p: Profile, path = profilePath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, JSON.stringify(p, null, 2) + '\n');
}

export function resolveClientOptions(explicit: ClientOptions, env: NodeJS.ProcessEnv = process.env): Required<Pick<ClientOptions, 'url' | 'token' | 'timeoutMs'>> & ClientOptions {
  const profile = readProfile(profilePath(env));
  // The profile is used whole or not at all, so a fingerprint is never paired with another relay.
  const fromProfile = !explicit.url && !env.CMDOP_BASE_URL ? profile : null;
  const url = explicit.url ?? env.CMDOP_BASE_URL ?? fromProfile?.url;
  const token = explicit.token ?? env.CMDOP_TOKEN ?? fromProfile?.token;
  const fingerprint = explicit.fingerprint ?? env.CMDOP_FINGERPRINT ?? fromProfile?.fingerprint;
  const timeoutRaw = explicit.timeoutMs ?? (env.CMDOP_TIMEOUT_MS ? Number(env.CMDOP_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS);
  if (!url) throw new ValidationError('no relay URL: pass url, set CMDOP_BASE_URL, or run `npm start` once to write a profile');
  if (!token) throw new ValidationError('no API key: pass token or set CMDOP_TOKEN (cmdop-relay keys issue)');
  if (!(Number.isFinite(timeoutRaw) && timeoutRaw > 0)) throw new ValidationError('CMDOP_TIMEOUT_MS must be a positive number');
  return { ...explicit, url, token, fingerprint, timeoutMs: timeoutRaw, caFile: explicit.caFile ?? env.CMDOP_CA ?? undefined };
}
