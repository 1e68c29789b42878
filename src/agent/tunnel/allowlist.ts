/**
 * Which host:port targets tunnels may reach. Patterns: `CIDR:ports`, `[v6-CIDR]:ports`,
 * `hostname:ports` (exact name, or `*.suffix`), with ports `*`, `N` or `N-M`.
 * Pure apart from net.BlockList (an in-memory CIDR matcher).
 */
import { BlockList, isIP } from 'node:net';
import { ValidationError } from '../../errors.js';

interface Rule {
  ips: BlockList | null;
  name: string | null;
  lo: number;
  hi: number;
}

function parsePorts(s: string, pattern: string): [number, number] {
  if (s === '*') return [1, 65535];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!(lo >= 1 && hi <= 65535 && lo <= hi)) throw new ValidationError(`bad port range in tunnel allow pattern "${pattern}"`);
  return [lo, hi];
}

function parseRule(pattern: string): Rule {
  const i = pattern.lastIndexOf(':');
  if (i <= 0) throw new ValidationError(`tunnel allow pattern "${pattern}" must be host:port`);
  const [lo, hi] = parsePorts(pattern.slice(i + 1), pattern);
  let host = pattern.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const [addr, bits] = host.split('/');
  const family = isIP(addr ?? '');
  if (family) {
    const list = new BlockList();
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
    return { ips: list, name: null, lo, hi };
  }
  if (!/^(\*\.)?[a-z0-9.-]+$/i.test(host)) throw new ValidationError(`bad host in tunnel allow pattern "${pattern}"`);
  return { ips: null, name: host.toLowerCase(), lo, hi };
}

export class Allowlist {
  private readonly rules: Rule[];

  constructor(readonly patterns: readonly string[]) {
    this.rules = patterns.map(parseRule);
  }

  /** True if a host name (not an address) is allowed by a name rule. */
  allowsName(name: string, port: number): boolean {
    const n = name.toLowerCase();
    return this.rules.some((r) => r.name !== null && port >= r.lo && port <= r.hi && (r.name === n || (r.name.startsWith('*.') && n.endsWith(r.name.slice(1)))));
  }

  /** True if an IP address is allowed by an address rule. */
  allowsAddress(ip: string, port: number): boolean {
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    return this.rules.some((r) => r.ips !== null && port >= r.lo && port <= r.hi && r.ips.check(ip, type));
  }
}
