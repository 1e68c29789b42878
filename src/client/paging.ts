/** Cursor paging for list calls: every page, and every item, as async generators. */
import type { Page } from './machines.js';

/** Follows cursors: every item, and every page. */
export function paging<T, O extends { cursor?: string }>(list: (o: O) => Promise<Page<T>>) {
  return {
    async *pages(o: Omit<O, 'cursor'>): AsyncGenerator<T[]> {
      let cursor: string | undefined;
      do {
        const p = await list({ ...o, ...(cursor ? { cursor } : {}) } as O);
        yield p.items;
        cursor = p.nextCursor ?? undefined;
      } while (cursor);
    },
    async *iter(o: Omit<O, 'cursor'>): AsyncGenerator<T> {
      for await (const page of this.pages(o)) yield* page;
    },
  };
}
