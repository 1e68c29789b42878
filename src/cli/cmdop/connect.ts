/** The connection flags every `cmdop` command takes, and turning them into a Client. */
import { Client } from '../../client/client.js';
import { UsageError, type Options } from '../args.js';

export const CONNECT: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  fingerprint: { type: 'string' },
  timeout: { type: 'string' },
  insecure: { type: 'boolean' },
};

export type Values = Record<string, string | boolean | string[] | undefined>;

export function connect(v: Values): Promise<Client> {
  const timeout = v.timeout === undefined ? undefined : Number(v.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError('--timeout takes milliseconds');
  return Client.connect({
    url: v.url as string | undefined,
    token: v.token as string | undefined,
    fingerprint: v.fingerprint as string | undefined,
    timeoutMs: timeout,
    insecure: v.insecure as boolean | undefined,
  });
}

/** Runs `fn` with a connected client, closed however `fn` ends. */
export async function withClient<T>(v: Values, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await connect(v);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}
