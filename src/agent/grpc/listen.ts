/** Where the gRPC endpoint may listen over TCP: loopback only (pure). */
import { isIP } from 'node:net';
import { ValidationError } from '../../errors.js';

export function loopbackListen(spec: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(spec.trim());
  const host = m?.[1]?.replace(/^\[|\]$/g, '') ?? '';
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  if (!m || !loopback) throw new ValidationError(`grpcListen "${spec}" must be a loopback host:port (127.0.0.1:PORT or [::1]:PORT): the gRPC endpoint never listens on the network`);
  return { host, port: Number(m[2]) };
}
