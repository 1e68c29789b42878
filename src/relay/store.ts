/**
 * The relay's durable state behind a small interface, with one embedded implementation: a JSON
 * file written atomically (temp file, fsync, rename). Why a file: a self-hoster backs it up with
 * cp, reads it with jq, and the relay stays a single binary with no native module or database
 * server. The data is small (keys, tokens, machines). A shared store for several relay nodes
 * (Redis) can implement the same interface later.
 */
import { mkdirSync, readFileSync, openSync, writeSync, fsyncSync, closeSync, renameSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';

export interface KeyRecord {
  id: string;
  name: string;
  /** hex SHA-256 of the secret part; the secret itself is never stored. */
  hash: string;
  createdMs: number;
  revoked: boolean;
  lastUsedMs: number;
}

export interface TokenRecord {
  id: string;
  hash: string;
  createdMs: number;
  expiresMs: number;
  /** Enrolments still allowed; null = unlimited until expiry. */
  usesLeft: number | null;
  uses: number;
  labels: Record<string, string>;
  revoked: boolean;
}

export interface MachineRecord {
  id: string;
  hostname: string;
  name: string;
  labels: Record<string, string>;
  /** Ed25519 public key, SPKI DER, base64. Public only: a stolen store cannot sign. */
  publicKey: string;
  agentVersion: string;
  os: string;
  arch: string;
  enrolledMs: number;
  lastSeenMs: number;
  disabled: boolean;
}

export interface RelayData {
  version: 1;
  keys: KeyRecord[];
  tokens: TokenRecord[];
  machines: MachineRecord[];
}

export interface RelayStore {
  load(): RelayData;
  save(data: RelayData): void;
}

export function emptyData(): RelayData {
  return { version: 1, keys: [], tokens: [], machines: [] };
}

export class JsonFileStore implements RelayStore {
  readonly path: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, 'relay-state.json');
    // A crash between write and rename leaves the temp file; the real file is intact.
    if (existsSync(this.path + '.tmp')) unlinkSync(this.path + '.tmp');
  }

  load(): RelayData {
    if (!existsSync(this.path)) return emptyData();
    let data: RelayData;
    try {
      data = JSON.parse(readFileSync(this.path, 'utf8')) as RelayData;
    } catch (err) {
      throw new ValidationError(`relay state ${this.path} is not valid JSON; restore it from a backup`, { cause: err });
    }
    if (data.version !== 1) throw new ValidationError(`relay state ${this.path} has unknown version ${String(data.version)}`);
    return data;
  }

  save(data: RelayData): void {
    const tmp = this.path + '.tmp';
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(data, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
