/** The relay's handshake slots: when a silent upgrade may be shed for a waiting one (fake clock). */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Admission, SHED_IDLE_AFTER_MS } from '../../src/relay/admission.js';
import type { Conn } from '../../src/relay/conn.js';

/** A link in its handshake, as far as admission sees one; closing it releases its slot. */
function conn(release: () => void, spoke = false) {
  const c = { handshaking: true, spoke, closed: 0, log: { info: () => undefined }, link: { close: () => (c.closed++, release()) } };
  return c;
}

/** An upgrade's socket as far as a wait sees it: something that emits 'close'. */
const socket = () => new EventEmitter();

describe('Admission', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a silent upgrade keeps its slot until SHED_IDLE_AFTER_MS, then is shed for the one waiting', () => {
    const a = new Admission(1, 8000, () => Date.now());
    const c = conn(a.admit('10.0.0.1')!);
    a.track(c as unknown as Conn);
    expect(a.admit('10.0.0.2')).toBeNull(); // full, and the silent one is too young to shed
    const go = vi.fn();
    expect(a.wait('10.0.0.2', socket(), go, () => undefined)).toBe(true);
    vi.advanceTimersByTime(SHED_IDLE_AFTER_MS - 1);
    expect(c.closed).toBe(0);
    expect(go).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(c.closed).toBe(1);
    expect(go).toHaveBeenCalledTimes(1);
  });

  it('an upgrade that said hello is never shed; the waiting one gets 503 at the end of its wait', () => {
    const a = new Admission(1, 3000, () => Date.now());
    const c = conn(a.admit('10.0.0.1')!, true);
    a.track(c as unknown as Conn);
    const busy = vi.fn();
    a.wait('10.0.0.2', socket(), () => undefined, busy);
    vi.advanceTimersByTime(3000);
    expect(c.closed).toBe(0);
    expect(busy).toHaveBeenCalledTimes(1);
  });

  it('an old silent upgrade is shed at once for a newcomer, and only once', () => {
    const a = new Admission(2, 8000, () => Date.now());
    const old = conn(a.admit('10.0.0.1')!);
    a.track(old as unknown as Conn);
    vi.advanceTimersByTime(SHED_IDLE_AFTER_MS);
    const young = conn(a.admit('10.0.0.3')!);
    a.track(young as unknown as Conn);
    // Shedding the old one freed its slot; the newcomer takes it at once.
    expect(a.admit('10.0.0.2')).not.toBeNull();
    expect(old.closed).toBe(1);
    expect(young.closed).toBe(0);
    vi.advanceTimersByTime(10 * SHED_IDLE_AFTER_MS);
    expect(old.closed).toBe(1);
  });

  it('a wait takes its close listener off the socket when it is admitted or refused, so a live link retains nothing of its upgrade', () => {
    const a = new Admission(1, 3000, () => Date.now());
    const release = a.admit('10.0.0.1')!;
    const admitted = socket();
    const refused = socket();
    const go = vi.fn();
    const busy = vi.fn();
    a.wait('10.0.0.2', admitted, go, () => undefined);
    a.wait('10.0.0.3', refused, () => undefined, busy);
    expect(admitted.listenerCount('close')).toBe(1);
    release(); // a slot: the first in the queue takes it
    expect(go).toHaveBeenCalledTimes(1);
    expect(admitted.listenerCount('close')).toBe(0);
    vi.advanceTimersByTime(3000);
    expect(busy).toHaveBeenCalledTimes(1);
    expect(refused.listenerCount('close')).toBe(0);
  });

  it('a waiting socket that closes leaves the queue and is never admitted', () => {
    const a = new Admission(1, 3000, () => Date.now());
    const release = a.admit('10.0.0.1')!;
    const s = socket();
    const go = vi.fn();
    a.wait('10.0.0.2', s, go, () => undefined);
    s.emit('close');
    release();
    vi.advanceTimersByTime(3000);
    expect(go).not.toHaveBeenCalled();
  });
});
