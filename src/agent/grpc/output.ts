/**
 * GetOutput's offset and limit, as the official SDK uses them (pure):
 * - `execute()` polls offset 0 with a limit (20 KiB) and looks for its end marker in the answer,
 *   so offset 0 with a limit is the LAST `limit` bytes (else a session that has printed more than
 *   the limit could never finish an execute);
 * - `terminal.stream()` polls forward: offset N (absolute, the count of bytes it has seen) with
 *   limit 0 (= 1 MiB), and adds the length of each answer to its offset.
 * Offsets are absolute bytes since the session started; bytes older than the scrollback are gone,
 * and a read from before what is kept starts at the oldest byte kept.
 */
export const DEFAULT_OUTPUT_LIMIT = 1024 * 1024;
/** An answer stays under grpc-js's default 4 MiB receive limit, which the SDK keeps. */
export const MAX_OUTPUT_LIMIT = 4 * 1024 * 1024 - 64 * 1024;

export function outputRead(offset: number, limit: number): { fromOffset?: number; maxBytes: number } {
  const max = Math.min(limit > 0 ? limit : DEFAULT_OUTPUT_LIMIT, MAX_OUTPUT_LIMIT);
  if (offset <= 0 && limit > 0) return { maxBytes: max };
  return { fromOffset: Math.max(0, offset), maxBytes: max };
}
