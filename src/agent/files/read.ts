/**
 * files.read: the file's bytes from an offset, streamed under flow control. Memory stays
 * constant for any size: one chunk in flight to the link plus one read ahead. Reads are
 * frame-ready pieces (link/file-pieces.ts): no copy between the disk and the socket.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FileTooLargeError, IsADirectoryError, ValidationError } from '../../errors.js';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { decodeRequest } from '../../link/services.js';
import type { Stream } from '../../protocol/stream.js';
import { onPath } from '../../fs-errors.js';
import { O_NOFOLLOW, type FilesPolicy } from './policy.js';
import { READ_CHUNK, readPieces } from '../../link/file-pieces.js';

/** Opens a regular file for reading, checked against the jail after open. */
export async function openForRead(policy: FilesPolicy, path: string): Promise<{ fh: FileHandle; size: number; user: string }> {
  const r = await policy.resolve(path, true);
  const fh = await onPath(r.user, () => open(r.path, constants.O_RDONLY | O_NOFOLLOW));
  try {
    await policy.verifyOpen(fh.fd, r);
    const st = await fh.stat();
    if (st.isDirectory()) throw new IsADirectoryError(`${r.user}: is a directory`);
    policy.checkLinks(st, r.user);
    return { fh, size: st.size, user: r.user };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

export async function streamRead(stream: Stream, policy: FilesPolicy): Promise<void> {
  const req = decodeRequest(cmdop.v1.ReadFileRequest, stream);
  const { fh, size, user } = await openForRead(policy, req.path);
  try {
    const offset = Number(req.offset) || 0;
    if (offset > size) throw new ValidationError(`${user}: offset ${offset} is past the end (${size} bytes)`);
    const end = req.length ? Math.min(size, offset + Number(req.length)) : size;
    if (req.maxBytes && end - offset > Number(req.maxBytes)) {
      throw new FileTooLargeError(`${user}: ${end - offset} bytes is more than the ${req.maxBytes}-byte limit of a buffered read (stream it instead)`);
    }
    let drained: (() => void) | null = null;
    let closed = false;
    stream.handle({
      onDrain: () => drained?.(),
      onClose: () => {
        closed = true;
        drained?.();
      },
    });
    const readAt = (pos: number) => readPieces(fh, pos, Math.min(READ_CHUNK, end - pos));
    let pos = offset;
    let next = readAt(pos);
    for (;;) {
      const chunk = await onPath(user, () => next);
      if (!chunk || closed) break;
      pos += chunk.bytes;
      next = readAt(pos); // read ahead while the link sends
      next.catch(() => {}); // surfaced by the await above on the next turn
      let flowing = true;
      for (const piece of chunk.pieces) flowing = stream.write(piece);
      if (!flowing) await new Promise<void>((r) => (drained = r));
      drained = null;
      if (closed) break;
    }
    if (!closed) stream.end();
  } finally {
    await fh.close();
  }
}
