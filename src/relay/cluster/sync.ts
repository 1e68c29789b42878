/**
 * Applies what other relay nodes changed to this node's memory. A notification names a table and
 * an id: keys, tokens and machines are reloaded one by one (revocations take effect within a
 * round trip); fleets and schedules, rare and cross-linked, by a full reload, coalesced. Notes are
 * applied strictly in arrival order, so an older load can never land after a newer one. After
 * every change `enforce` runs: live links of revoked or expired keys and disabled machines close.
 */
import type { Logger } from '../../log.js';
import type { RelayState } from '../state.js';
import type { RelayStore } from '../store/store.js';
import type { PgCluster } from '../store/postgres-cluster.js';

export class ChangeSync {
  private chain: Promise<void> = Promise.resolve();
  private fullPending = false;

  constructor(private readonly state: RelayState, private readonly store: RelayStore, private readonly db: PgCluster, private readonly enforce: () => void, private readonly log: Logger) {}

  /** A `table:id` notification. */
  note(payload: string): void {
    const at = payload.indexOf(':');
    const table = payload.slice(0, at);
    const id = payload.slice(at + 1);
    if (table === 'api_keys' || table === 'join_tokens' || table === 'machines') return this.then(() => this.one(table, id));
    if (this.fullPending) return;
    this.fullPending = true;
    this.then(() => {
      this.fullPending = false;
      return this.full();
    });
  }

  private then(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: Error) => {
      // The listener will drop too if the database went away, and its resync repairs this.
      this.log.warn({ reason: err.message }, 'cluster sync: a reload failed');
    });
  }

  private async one(table: string, id: string): Promise<void> {
    if (table === 'api_keys') {
      const k = await this.db.key(id);
      if (k) this.state.adoptKey(k);
    } else if (table === 'join_tokens') {
      const t = await this.db.token(id);
      if (t) this.state.tokens.adopt(t);
    } else {
      const m = await this.db.machine(id);
      if (m) this.state.adoptMachine(m);
    }
    this.enforce();
  }

  /** Everything from the tables (a resync); waits for the notes before it. */
  resync(): Promise<void> {
    const p = this.chain.then(() => this.full());
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async full(): Promise<void> {
    this.state.adoptSnapshot(await this.store.snapshot());
    this.enforce();
  }

  /** Resolves once every note received so far is applied. */
  settled(): Promise<void> {
    return this.chain;
  }
}
