/**
 * Several relay nodes behind one setting: `wss://a:8443,wss://b:8443` (or a single URL). An agent
 * or client starts on a random one, so a fleet spreads across the nodes, and after a failure
 * (or a drain) moves to a random other one, so the agents of a node that died spread over the
 * rest instead of all landing on the next in the list. Pure; the random source is injected.
 */
import { ValidationError } from '../errors.js';

export function parseRelayUrls(spec: string): string[] {
  const urls = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (urls.length === 0) throw new ValidationError('no relay URL given');
  return [...new Set(urls)];
}

export class RelayList {
  readonly urls: readonly string[];
  private index: number;

  constructor(spec: string, private readonly random: () => number = Math.random) {
    this.urls = parseRelayUrls(spec);
    this.index = Math.floor(random() * this.urls.length) % this.urls.length;
  }

  get current(): string {
    return this.urls[this.index]!;
  }

  /** Moves to another node (any but the current one, chosen at random). */
  failover(): string {
    if (this.urls.length > 1) this.index = (this.index + 1 + Math.floor(this.random() * (this.urls.length - 1))) % this.urls.length;
    return this.current;
  }
}
