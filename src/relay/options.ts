/** What a relay is started with, and where its admin socket lives. */
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { ClusterOptions } from './cluster/node.js';

export interface RelayOptions {
  dataDir: string;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Plain ws:// with no TLS. Development only. */
  insecure?: boolean;
  heartbeatMs?: number;
  maxHandshakes?: number;
  /** How long an upgrade may wait for a handshake slot before its 503 (default QUEUE_WAIT_MS). */
  handshakeQueueMs?: number;
  /** Listen on <dataDir>/admin.sock for key and token administration (default true). */
  adminSocket?: boolean;
  /** `postgres://...`, or embedded (the default: files in the data dir). */
  store?: string | undefined;
  /** Audit records older than this are deleted (default: kept for ever). */
  auditRetentionMs?: number | undefined;
  /** Serve the web console at /ui/ on the public port. */
  ui?: boolean;
  /** Join a cluster of relay nodes sharing the PostgreSQL store. */
  cluster?: ClusterOptions | undefined;
  log: Logger;
}

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, 'admin.sock');
}
