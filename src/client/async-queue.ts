/** Items pushed by stream callbacks, read with `for await`; ends cleanly or with an error. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  /** No more items; with an error, the reader throws it once the queue is drained. */
  end(err: Error | null = null): void {
    this.ended = true;
    this.failure ??= err;
    this.wake();
  }

  get done(): boolean {
    return this.ended;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}
