/** Turns an fs error into the one line a recording's status (and the agent's log) shows. */
export function describeWriteError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC') return 'no space left on device';
  if (e?.code === 'EDQUOT') return 'disk quota exceeded';
  return e?.code ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e);
}
