/**
 * A file read as frame-ready pieces: each read from disk is one vectored read (`preadv`) into
 * DATA_CHUNK-sized pieces, each with room for its data frame header in front
 * (protocol/headroom.ts), so a piece goes out as one frame and the file's bytes are copied once on
 * this side (by the kernel, into the frame). The agent's files.read and the client's upload use it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { carveWithHeadroom, FRAME_HEADROOM, headroomPrefix } from '../protocol/headroom.js';
import { DATA_CHUNK } from '../protocol/limits.js';

/** Bytes of one read from disk. */
export const READ_CHUNK = 1024 * 1024;

/** The pieces of one read, and how many bytes they hold. */
export interface Pieces {
  pieces: Uint8Array[];
  bytes: number;
}

/** Reads up to `n` bytes at `pos` into pieces with frame headroom; null at the end of the file. */
export async function readPieces(fh: FileHandle, pos: number, n: number): Promise<Pieces | null> {
  if (n <= 0) return null;
  const count = Math.ceil(n / DATA_CHUNK);
  const pieces = carveWithHeadroom(Buffer.allocUnsafe(count * (FRAME_HEADROOM + DATA_CHUNK)), count, DATA_CHUNK, FRAME_HEADROOM);
  pieces[count - 1] = headroomPrefix(pieces[count - 1]!, n - (count - 1) * DATA_CHUNK);
  const { bytesRead } = await fh.readv(pieces, pos);
  if (bytesRead === 0) return null;
  const got: Uint8Array[] = [];
  for (let i = 0, left = bytesRead; left > 0; i++) {
    const k = Math.min(pieces[i]!.length, left);
    got.push(headroomPrefix(pieces[i]!, k));
    left -= k;
  }
  return { pieces: got, bytes: bytesRead };
}

/** The file at `path` from `start` to its end, as pieces, reading one READ_CHUNK ahead. */
export async function* filePieces(path: string, start: number): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    let pos = start;
    let next = readPieces(fh, pos, READ_CHUNK);
    for (;;) {
      const got = await next;
      if (!got) return;
      pos += got.bytes;
      next = readPieces(fh, pos, READ_CHUNK);
      next.catch(() => {}); // surfaced by the await above on the next turn
      yield* got.pieces;
    }
  } finally {
    await fh.close();
  }
}
