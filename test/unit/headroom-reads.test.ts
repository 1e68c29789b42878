/**
 * Socket reads into headroom buffers, over a real loopback TCP connection: every byte arrives
 * once and in order (reads before attach included, and across a pause), big reads frame in place,
 * small ones are copies of their own size.
 */
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HeadroomReads, READ_BYTES } from '../../src/link/headroom-reads.js';
import { decodeFrame, encodeData } from '../../src/protocol/codec.js';

let server: Server | undefined;
afterEach(() => server?.close());

/** A server that writes `parts` to each connection, in order, then ends. */
function serve(parts: Buffer[]): Promise<number> {
  server = createServer((s) => {
    for (const p of parts) s.write(p);
    s.end();
  });
  return new Promise((r) => server!.listen(0, '127.0.0.1', () => r((server!.address() as AddressInfo).port)));
}

describe('headroom reads', () => {
  it('delivers every byte in order across a pause; big reads frame without a copy, small ones are their own size', async () => {
    const parts = [Buffer.alloc(3 * READ_BYTES, 1), Buffer.from('small'), Buffer.alloc(READ_BYTES + 17, 2)];
    const want = Buffer.concat(parts);
    const port = await serve(parts);
    const reads = new HeadroomReads();
    const sock = connect({ port, host: '127.0.0.1', onread: reads.onread });
    const got: Uint8Array[] = [];
    let paused = 0;
    const done = new Promise<void>((r) => sock.once('end', () => r()));
    // Attached a turn late: anything read before waits for it.
    await new Promise((r) => setImmediate(r));
    reads.attach((chunk) => {
      got.push(chunk);
      if (got.length % 2 === 0) {
        paused++;
        setImmediate(() => sock.resume());
        return false;
      }
      return true;
    });
    await done;
    expect(Buffer.concat(got).equals(want)).toBe(true);
    expect(paused).toBeGreaterThan(0);
    for (const chunk of got) {
      const frame = encodeData(3, chunk);
      expect(Buffer.from(decodeFrame(frame).data!).equals(Buffer.from(chunk))).toBe(true);
      if (chunk.length >= READ_BYTES / 2) expect(frame.buffer).toBe(chunk.buffer);
      else expect(chunk.buffer.byteLength).toBeLessThan(READ_BYTES / 2 + 8192);
    }
  });
});
