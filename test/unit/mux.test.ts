import { describe, expect, it } from 'vitest';
import { Mux, type FrameSink } from '../../src/protocol/mux.js';
import { decodeFrame, encodeData, encodeFrame } from '../../src/protocol/codec.js';
import { ProtocolError, NotFoundError } from '../../src/errors.js';
import { DEFAULT_WINDOW } from '../../src/protocol/limits.js';
import type { Stream } from '../../src/protocol/stream.js';

/** Two muxes joined back to back in memory: the pure core, tested with bytes. */
function pair(onStream?: (s: Stream) => void) {
  const queues: { a: Uint8Array[]; b: Uint8Array[] } = { a: [], b: [] };
  let buffered = 0;
  const sinkA: FrameSink = { send: (f) => queues.b.push(f), bufferedAmount: () => buffered };
  const sinkB: FrameSink = { send: (f) => queues.a.push(f), bufferedAmount: () => 0 };
  const a = new Mux(sinkA, { dialer: true });
  const b = new Mux(sinkB, { dialer: false, onStream });
  const pump = () => {
    while (queues.a.length || queues.b.length) {
      for (const f of queues.b.splice(0)) {
        const d = decodeFrame(f);
        if (d.streamId) b.receive(d);
      }
      for (const f of queues.a.splice(0)) {
        const d = decodeFrame(f);
        if (d.streamId) a.receive(d);
      }
    }
  };
  return { a, b, pump, queues, setBuffered: (n: number) => (buffered = n) };
}

describe('mux', () => {
  it('carries bytes both ways with half-close', () => {
    const got: string[] = [];
    const { a, pump } = pair((s) => {
      s.handle({
        onData: (c) => s.write(new TextEncoder().encode(new TextDecoder().decode(c).toUpperCase())),
        onEnd: () => s.end(),
      });
    });
    const s = a.open({ service: 'echo', method: 'upper' });
    let closed: unknown = 'open';
    s.handle({ onData: (c) => got.push(new TextDecoder().decode(c)), onClose: (e) => (closed = e) });
    s.write(new TextEncoder().encode('hello'));
    s.end();
    pump();
    expect(got.join('')).toBe('HELLO');
    expect(closed).toBe(null);
    expect(a.size).toBe(0);
  });

  it('a sender stops at the window and resumes when the consumer drains', () => {
    let held: Stream | undefined;
    let received = 0;
    const { a, b, pump } = pair((s) => {
      held = s;
      s.autoConsume = false;
      s.handle({ onData: (c) => (received += c.length) });
    });
    const s = a.open({ service: 'sink', method: 'slow' });
    const big = new Uint8Array(DEFAULT_WINDOW * 3);
    expect(s.write(big)).toBe(false);
    pump();
    expect(received).toBe(DEFAULT_WINDOW);
    expect(s.writableLength).toBe(DEFAULT_WINDOW * 2);
    expect(held!.readableLength).toBe(DEFAULT_WINDOW);
    held!.consume(DEFAULT_WINDOW);
    pump();
    expect(received).toBe(DEFAULT_WINDOW * 2);
    held!.consume(DEFAULT_WINDOW);
    pump();
    expect(received).toBe(big.length);
    expect(b.size).toBe(1);
  });

  it('a peer that overruns the window is a protocol error', () => {
    const { a, b, pump } = pair((s) => {
      s.autoConsume = false; // a consumer that never drains
      s.handle({});
    });
    const s = a.open({ service: 'x', method: 'y' });
    pump();
    // Forge frames past the window, as a broken peer would.
    const chunk = new Uint8Array(64 * 1024);
    for (let i = 0; i < DEFAULT_WINDOW / chunk.length; i++) b.receive(decodeFrame(encodeData(s.id, chunk)));
    expect(() => b.receive(decodeFrame(encodeData(s.id, new Uint8Array(1))))).toThrow(ProtocolError);
  });

  it('frames for never-opened streams are protocol errors; for closed ones they are dropped', () => {
    const { a, b, pump } = pair((s) => s.handle({ onEnd: () => s.end() }));
    expect(() => b.receive(decodeFrame(encodeData(99, new Uint8Array(1))))).toThrow(/unknown stream/);
    const s = a.open({ service: 'x', method: 'y', end: true });
    pump();
    expect(s.finished).toBe(true);
    expect(() => b.receive(decodeFrame(encodeFrame(s.id, { window: { credit: 10 } })))).not.toThrow();
    // Opening with the wrong parity or going backwards is out of sequence.
    expect(() => b.receive(decodeFrame(encodeFrame(2, { open: { service: 'x', method: 'y' } })))).toThrow(/out of sequence/);
    expect(() => b.receive(decodeFrame(encodeFrame(1, { open: { service: 'x', method: 'y' } })))).toThrow(/out of sequence/);
  });

  it('a stream to nowhere is refused with not_found', () => {
    const { a, pump } = pair();
    const s = a.open({ service: 'x', method: 'y' });
    let err: unknown;
    s.handle({ onClose: (e) => (err = e) });
    pump();
    expect(err).toBeInstanceOf(NotFoundError);
  });

  it('under congestion, streams take turns: a bulk stream cannot starve another', () => {
    const order: number[] = [];
    const { a, pump, setBuffered, queues } = pair((s) => s.handle({}));
    const bulk = a.open({ service: 'bulk', method: 'x' });
    const small = a.open({ service: 'small', method: 'x' });
    pump();
    setBuffered(10 * 1024 * 1024); // the socket is full
    bulk.write(new Uint8Array(512 * 1024));
    small.write(new Uint8Array(10));
    expect(queues.b.length).toBe(0);
    setBuffered(0);
    // Let one frame out per drain and record whose it was.
    const realSend = queues.b.push.bind(queues.b);
    queues.b.push = (...f: Uint8Array[]) => {
      order.push(decodeFrame(f[0]!).streamId);
      setBuffered(10 * 1024 * 1024);
      return realSend(...f);
    };
    for (let i = 0; i < 3; i++) {
      setBuffered(0);
      a.drained();
    }
    expect(order.slice(0, 2).sort()).toEqual([bulk.id, small.id].sort());
  });
});
