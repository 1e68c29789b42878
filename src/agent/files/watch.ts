/**
 * files.watch: add / change / unlink (and addDir / unlinkDir) events under a path, coalesced per
 * path over a short window and sent as MSG_EVENT batches. If the client stops reading, events
 * are dropped and one `overflow` event says so, rather than buffering without bound.
 */
import { stat } from 'node:fs/promises';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { decodeRequest } from '../../link/services.js';
import { frameMessage, MSG_EVENT } from '../../protocol/messages.js';
import type { Stream } from '../../protocol/stream.js';
import type { Logger } from '../../log.js';
import { onPath } from '../../fs-errors.js';
import type { FilesPolicy } from './policy.js';

const DEFAULT_COALESCE_MS = 100;
/** Above this many unsent bytes the client is not keeping up: drop and report overflow. */
const WATCH_BACKLOG = 1024 * 1024;

/** Merges a new event for a path into the pending one: add then change stays add; add then unlink cancels out. */
export function coalesce(prev: string | undefined, next: string): string | null {
  if (!prev) return next;
  if (prev === 'add' && next === 'change') return 'add';
  if ((prev === 'add' && next === 'unlink') || (prev === 'addDir' && next === 'unlinkDir')) return null;
  if (prev === 'unlink' && next === 'add') return 'change';
  return next;
}

export async function streamWatch(stream: Stream, policy: FilesPolicy, log: Logger): Promise<void> {
  const req = decodeRequest(cmdop.v1.WatchRequest, stream);
  const r = await policy.resolve(req.path, true);
  const st = await onPath(r.user, () => stat(r.path));
  const { watch } = await import('chokidar');
  const watcher = watch(r.path, {
    ignoreInitial: true,
    followSymlinks: false,
    depth: req.recursive || !st.isDirectory() ? undefined : 0,
    ignored: policy.jailed ? (p: string) => !policy.inside(p) : undefined,
  });
  const every = req.coalesceMs || DEFAULT_COALESCE_MS;
  let pending = new Map<string, string>();
  let timer: NodeJS.Timeout | null = null;
  let overflow = false;
  const send = (events: cmdop.v1.IWatchEvent[]) => stream.write(frameMessage(MSG_EVENT, cmdop.v1.WatchEvents.encode({ events }).finish()));
  const flush = () => {
    timer = null;
    const events = [...pending].map(([path, type]) => ({ type, path }));
    pending = new Map();
    if (overflow && stream.writableLength === 0) {
      overflow = false;
      events.unshift({ type: 'overflow', path: r.path });
    }
    if (events.length && !overflow) send(events);
  };
  const on = (type: string) => (path: string) => {
    if (stream.writableLength > WATCH_BACKLOG) {
      overflow = true;
      pending.clear();
      return;
    }
    const merged = coalesce(pending.get(path), type);
    if (merged) pending.set(path, merged);
    else pending.delete(path);
    timer ??= setTimeout(flush, every);
  };
  for (const type of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) watcher.on(type, on(type));
  watcher.on('ready', () => send([{ type: 'ready', path: r.path }]));
  watcher.on('error', (err) => log.warn({ err, path: r.user }, 'watch error'));
  stream.handle({
    onClose: () => {
      if (timer) clearTimeout(timer);
      void watcher.close();
    },
  });
}
