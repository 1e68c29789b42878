/**
 * V8's memory-reducing full collection (the one a low-memory notification runs), asked for in
 * process through an inspector session (no listener is opened). V8's own memory reducer runs it
 * by itself only when its heuristics see the process idle, which may be tens of seconds later or,
 * on a busy host, not at all; the relay asks after a herd of links, the agent once after start-up.
 */
export async function reduceHeap(): Promise<void> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  try {
    await new Promise<void>((resolve, reject) => session.post('HeapProfiler.collectGarbage', (err) => (err ? reject(err) : resolve())));
  } finally {
    session.disconnect();
  }
}
