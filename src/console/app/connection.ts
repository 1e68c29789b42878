/**
 * The console's link to the relay (or to `cmdop ui`'s bridge): the browser's WebSocket to
 * /ui/link, authenticated by the HttpOnly session cookie the upgrade carries, so the page never
 * holds a key. It is made again after a drop; terminals resume on their own.
 */
import { greet } from '../../link/greet.js';
import type { Link } from '../../link/link.js';
import type { Logger } from '../../log.js';
import { cmdop } from '../../protocol/gen/cmdop.js';
import type { LinkSource } from '../../client/caller.js';
import { BrowserTransport } from './transport.js';

const HANDSHAKE_MS = 10_000;

/** The handful of logger methods the link layers call, on the console. */
export const consoleLog = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (o: unknown, m?: string) => console.warn(m ?? o, o),
  error: (o: unknown, m?: string) => console.error(m ?? o, o),
  child: () => consoleLog,
} as unknown as Logger;

export class BrowserConnection implements LinkSource {
  private link: Link | null = null;
  private pending: Promise<Link> | null = null;
  onState: (up: boolean) => void = () => undefined;

  constructor(private readonly url: string) {}

  get(): Promise<Link> {
    if (this.link?.isOpen) return Promise.resolve(this.link);
    this.pending ??= this.dial().finally(() => (this.pending = null));
    return this.pending;
  }

  private async dial(): Promise<Link> {
    const t = await BrowserTransport.open(this.url);
    const { link } = await greet(t, { log: consoleLog, peer: this.url, timeoutMs: HANDSHAKE_MS, hello: { role: cmdop.v1.Role.CLIENT, software: 'cmdop-console' } });
    this.link = link;
    this.onState(true);
    link.onClose(() => {
      if (this.link === link) this.link = null;
      this.onState(false);
    });
    return link;
  }
}

/** ws(s)://this-host/ui/link */
export function linkUrlHere(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ui/link`;
}
