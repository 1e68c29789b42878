import { describe, expect, it } from 'vitest';
import { createScreen } from '../../src/agent/terminal/remote-screen.js';
import { SCREEN_HIGH_WATER } from '../../src/agent/terminal/screen.js';

describe('the emulator worker', () => {
  it('parses output off the main thread, reports its progress, and answers exact snapshots in order with resizes', async () => {
    const s = createScreen(40, 10);
    expect(s.constructor.name).toBe('RemoteScreen'); // the build's worker script is there (npm test builds first)
    s.write(new TextEncoder().encode('\x1b[1mbold\x1b[0m line one\r\nline two'));
    s.resize(60, 12);
    s.write(new TextEncoder().encode('\r\nafter resize'));
    const snap = await s.snapshot();
    // The snapshot reflects an exact prefix of the output (the rest comes from the scrollback),
    // at least everything before the resize, which it shows at the new size.
    expect(snap).toMatchObject({ cols: 60, rows: 12 });
    expect([31, 45]).toContain(snap.offset);
    const text = new TextDecoder().decode(snap.data);
    expect(text).toContain('line one');
    expect(text).toContain('\x1b[1m'); // attributes survive
    if (snap.offset === 45) expect(text).toContain('after resize');
    // Backlog drains as the worker reports progress.
    const big = new Uint8Array(SCREEN_HIGH_WATER).fill(0x61);
    s.write(big);
    await new Promise<void>((resolve) => (s.onDrained = resolve));
    expect(s.backlog).toBeLessThanOrEqual(SCREEN_HIGH_WATER);
    await expect.poll(async () => (await s.snapshot()).offset).toBe(45 + big.length);
    s.dispose();
  });
});
