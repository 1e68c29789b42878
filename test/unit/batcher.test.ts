/** Output pacing: an echo leaves on the next turn; a flood leaves at most every FLOOD_FLUSH_MS, in big messages. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FLOOD_FLUSH_MS, FLOOD_MIN_BYTES, OUTPUT_BATCH_MAX, OutputBatcher } from '../../src/agent/terminal/batcher.js';

describe('output batcher', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  function harness() {
    const sent: Array<{ data: Uint8Array; at: number }> = [];
    const b = new OutputBatcher((data, at) => sent.push({ data: Uint8Array.from(data), at }));
    return { b, sent };
  }

  it('sends what one turn read as one message on the next turn, with its offset', () => {
    const { b, sent } = harness();
    b.push(Uint8Array.of(1, 2), 100);
    b.push(Uint8Array.of(3), 102);
    expect(sent).toHaveLength(0);
    vi.advanceTimersToNextTimer();
    expect(sent).toEqual([{ data: Uint8Array.of(1, 2, 3), at: 100 }]);
  });

  it('keystroke echoes each leave on the next turn, however close together', () => {
    const { b, sent } = harness();
    for (let i = 0; i < 5; i++) {
      b.push(Uint8Array.of(120), i);
      vi.advanceTimersToNextTimer();
      expect(sent).toHaveLength(i + 1);
    }
  });

  it('during a flood, output waits until FLOOD_FLUSH_MS after the last message and leaves together', () => {
    const { b, sent } = harness();
    b.push(new Uint8Array(FLOOD_MIN_BYTES), 0);
    vi.advanceTimersToNextTimer();
    expect(sent).toHaveLength(1);
    b.push(new Uint8Array(4096), FLOOD_MIN_BYTES);
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(1);
    b.push(new Uint8Array(4096), FLOOD_MIN_BYTES + 4096);
    vi.advanceTimersByTime(FLOOD_FLUSH_MS);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ at: FLOOD_MIN_BYTES });
    expect(sent[1]!.data.length).toBe(8192);
  });

  it('a full batch leaves at once, and flush() sends what is pending', () => {
    const { b, sent } = harness();
    b.push(new Uint8Array(OUTPUT_BATCH_MAX), 0);
    expect(sent).toHaveLength(1);
    b.push(Uint8Array.of(7), OUTPUT_BATCH_MAX);
    b.flush();
    expect(sent).toHaveLength(2);
    b.flush();
    expect(sent).toHaveLength(2);
  });
});
