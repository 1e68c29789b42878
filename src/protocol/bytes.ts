/**
 * Fresh bytes for a frame or message that its encoder fills completely.
 *
 * In Node these come from Buffer's pool (`Buffer.allocUnsafe`): a small one is a view of a shared
 * 8 KiB slab, with no zero-fill and no ArrayBuffer of its own. `new Uint8Array(n)` above 64 bytes
 * gets a zero-filled ArrayBuffer of its own, which V8 tracks until a collection frees it: about
 * 1 us per keystroke-sized message here against 0.1-0.15 us from the pool, and every message of
 * a round trip is made this way in each of the three processes. A browser (the console bundles
 * the codec) has no Buffer and gets plain arrays.
 *
 * The bytes are NOT zeroed: the caller writes every one of them before they go anywhere.
 */
type Pool = { allocUnsafe(n: number): Uint8Array };
const pool = (globalThis as { Buffer?: Pool }).Buffer;

export const allocUnfilled: (n: number) => Uint8Array = pool ? (n) => pool.allocUnsafe(n) : (n) => new Uint8Array(n);
