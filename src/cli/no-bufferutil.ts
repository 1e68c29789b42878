/**
 * Imported by the agent before anything loads `ws`: ws then skips its optional native
 * `bufferutil`. The agent never needs it (inside TLS it sends a zero mask, which ws skips, and
 * the relay's frames are not masked), and the native addon is ~1.7 MB of an idle agent's RSS
 * (`require('ws')` measured 8.9-9.0 MB with it, 6.9-7.3 MB without). The relay keeps it: a
 * browser's frames are masked.
 */
const ours = process.env.WS_NO_BUFFER_UTIL === undefined;
if (ours) process.env.WS_NO_BUFFER_UTIL = '1';

/** Once ws is loaded: takes the variable out again, so the programs the agent runs never see it. */
export function forgetNoBufferUtil(): void {
  if (ours) delete process.env.WS_NO_BUFFER_UTIL;
}
