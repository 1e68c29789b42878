/**
 * The client's link, made on first use and made again after a drop. Calls in flight when the
 * link drops fail with a retryable error; the next call dials afresh.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { Link } from '../link/link.js';
import { connectLink, type ConnectOptions } from '../link/connect.js';
import { ConnectionError, type CmdopError } from '../errors.js';

export class Connection extends EventEmitter {
  private link: Link | null = null;
  private pending: Promise<Link> | null = null;
  private closed = false;

  constructor(private readonly connectOptions: () => ConnectOptions, readonly log: Logger) {
    super();
  }

  /** The live link, dialing if there is none. */
  get(): Promise<Link> {
    if (this.closed) return Promise.reject(new ConnectionError('client is closed', { retryable: false }));
    if (this.link?.isOpen) return Promise.resolve(this.link);
    this.pending ??= connectLink(this.connectOptions())
      .then(({ link }) => {
        this.pending = null;
        if (this.closed) {
          link.close();
          throw new ConnectionError('client is closed', { retryable: false });
        }
        this.link = link;
        link.onClose((err: CmdopError) => {
          if (this.link === link) this.link = null;
          this.emit('disconnect', err);
        });
        this.emit('connect');
        return link;
      })
      .catch((err: unknown) => {
        this.pending = null;
        throw err;
      });
    return this.pending;
  }

  close(): void {
    this.closed = true;
    this.link?.close();
    this.link = null;
  }
}
