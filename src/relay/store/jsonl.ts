/**
 * Append-only JSONL files, the embedded store's logs (state journal, audit, schedule runs): one
 * record a line, each append durable (fdatasync) before it is acknowledged. A crash can tear only
 * the last line; opening cuts it, since its append never returned. A failed append (disk full) is
 * cut back too, so the next append never lands after half a line.
 */
import { fdatasyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';

export interface OpenedLog {
  fd: number;
  /** The whole lines, without their newlines (empty lines kept, so indexes are line numbers - 1). */
  lines: string[];
  /** Bytes of those whole lines: the file's size once the torn tail is cut. */
  bytes: number;
}

/** Opens (creating, mode 0600) for appending, and cuts a torn last line. */
export function openLog(path: string): OpenedLog {
  const fd = openSync(path, 'a+', 0o600);
  const text = readFileSync(path, 'utf8');
  const whole = text.slice(0, text.lastIndexOf('\n') + 1);
  const bytes = Buffer.byteLength(whole);
  if (whole.length < text.length) ftruncateSync(fd, bytes); // a torn last line was never acknowledged
  return { fd, lines: whole ? whole.slice(0, -1).split('\n') : [], bytes };
}

/**
 * Appends `text` (whole lines) to a log of `size` bytes and syncs it; returns the new size. On a
 * failure the file is cut back to `size` and the error thrown: nothing of it was acknowledged.
 */
export function appendLog(fd: number, size: number, text: string): number {
  const next = writeLog(fd, size, text);
  try {
    fdatasyncSync(fd);
  } catch (err) {
    cutBack(fd, size);
    throw err;
  }
  return next;
}

/** appendLog without the sync, for a caller that syncs several appends at once (group commit). */
export function writeLog(fd: number, size: number, text: string): number {
  const buf = Buffer.from(text);
  try {
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
  } catch (err) {
    cutBack(fd, size);
    throw err;
  }
  return size + buf.length;
}

function cutBack(fd: number, size: number): void {
  try {
    ftruncateSync(fd, size);
  } catch {
    // the open at the next start cuts a torn line anyway
  }
}
