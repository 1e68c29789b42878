/** What the gRPC handlers reach the agent through: our own SDK on the agent's own socket. */
import type { Client } from '../../client/client.js';
import type { ExecuteWatch } from './execute-watch.js';

export interface GrpcCtx {
  /** The endpoint's client on the agent's local socket (one link, shared by every call). */
  client(): Promise<Client>;
  /** A fresh link for one call: an AI ask's PIN then verifies only that call. */
  once<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  hostname: string;
  watch: ExecuteWatch;
}

/** A google.protobuf.Timestamp. */
export function timestamp(d: Date | number | null | undefined): { seconds: number; nanos: number } | null {
  if (d === null || d === undefined) return null;
  const ms = typeof d === 'number' ? d : d.getTime();
  if (!ms) return null;
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}
