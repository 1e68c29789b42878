/**
 * Applies what other relay nodes changed to this node's memory. A notification names a table and
 * an id: keys, tokens and machines are reloaded by id, in batches: the ids noted while one load
 * is in flight are loaded together by the next (one query per table), so a herd of enrolments
 * elsewhere costs a few queries, not one per machine, and a revocation still lands within a round
 * trip or two. Fleets and schedules, rare and cross-linked, by a full reload, coalesced. Loads run
 * strictly one after another, so an older load can never land after a newer one. After every
 * load `enforce` runs: live links of revoked or expired keys and disabled machines close.
 */
import type { Logger } from '../../log.js';
import type { RelayState } from '../state.js';
import type { RelayStore } from '../store/store.js';
import type { PgCluster } from '../store/postgres-cluster.js';

/** Ids per query: keeps one batch's statement and reply small. */
const BATCH = 1000;

type Table = 'api_keys' | 'join_tokens' | 'machines';

export class ChangeSync {
  private chain: Promise<void> = Promise.resolve();
  private fullPending = false;
  private batchPending = false;
  private readonly ids: Record<Table, Set<string>> = { api_keys: new Set(), join_tokens: new Set(), machines: new Set() };

  constructor(private readonly state: RelayState, private readonly store: RelayStore, private readonly db: PgCluster, private readonly enforce: () => void, private readonly log: Logger) {}

  /** A `table:id` notification. */
  note(payload: string): void {
    const at = payload.indexOf(':');
    const table = payload.slice(0, at);
    const id = payload.slice(at + 1);
    if (table === 'api_keys' || table === 'join_tokens' || table === 'machines') {
      this.ids[table].add(id);
      if (this.batchPending) return;
      this.batchPending = true;
      return this.then(() => this.batch());
    }
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

  /** Loads every id noted since the last batch began. */
  private async batch(): Promise<void> {
    this.batchPending = false;
    const take = (t: Table) => {
      const ids = [...this.ids[t]];
      this.ids[t].clear();
      return ids;
    };
    const load = async <T>(ids: string[], fn: (ids: string[]) => Promise<T[]>) => {
      const out: T[] = [];
      for (let i = 0; i < ids.length; i += BATCH) out.push(...(await fn(ids.slice(i, i + BATCH))));
      return out;
    };
    const [keys, tokens, machines] = await Promise.all([
      load(take('api_keys'), (ids) => this.db.keys(ids)),
      load(take('join_tokens'), (ids) => this.db.tokens(ids)),
      load(take('machines'), (ids) => this.db.machines(ids)),
    ]);
    this.state.adopt({ keys, tokens, machines });
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
