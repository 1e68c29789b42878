import { describe, expect, it } from 'vitest';
import { Mux } from '../../src/protocol/mux.js';
import { decodeFrame } from '../../src/protocol/codec.js';
import type { Stream } from '../../src/protocol/stream.js';
import { ServiceRegistry, type Registrar } from '../../src/link/services.js';
import { silentLogger } from '../../src/log.js';
import type { CmdopError } from '../../src/errors.js';

type Ctx = { log: ReturnType<typeof silentLogger> };
const ctx: Ctx = { log: silentLogger() };
const text = (s: string) => new TextEncoder().encode(s);

/** Two muxes back to back in memory; the accepting side dispatches through `registry`. */
function pair(registry: ServiceRegistry<Ctx>) {
  const toB: Uint8Array[] = [];
  const toA: Uint8Array[] = [];
  const a = new Mux({ send: (f) => toB.push(f), bufferedAmount: () => 0 }, { dialer: true });
  const b = new Mux({ send: (f) => toA.push(f), bufferedAmount: () => 0 }, { dialer: false, onStream: (s) => registry.dispatch(s, ctx) });
  const pump = () => {
    while (toA.length || toB.length) {
      for (const f of toB.splice(0)) b.receive(decodeFrame(f));
      for (const f of toA.splice(0)) a.receive(decodeFrame(f));
    }
  };
  return { a, pump };
}

/** Opens `service.method` with a body; resolves with what came back, or the error. */
function call(a: Mux, method: string, body: string, pump: () => void): Promise<string | CmdopError> {
  return new Promise((resolve) => {
    const s = a.open({ service: 'echo', method });
    let got = '';
    s.handle({ onData: (c) => (got += new TextDecoder().decode(c)), onClose: (err) => resolve(err ?? got) });
    s.write(text(body));
    s.end();
    pump();
  });
}

/** A registrar for `echo.upper`: what a lazily imported module hands back. */
const upper: Registrar<Ctx> = (r) =>
  void r.stream('echo', 'upper', (s: Stream) => {
    let got = '';
    s.handle({ onData: (c) => (got += new TextDecoder().decode(c)), onEnd: () => (s.write(text(got.toUpperCase())), s.end()) });
  });

/** A load the test finishes by hand, so streams are seen arriving while it is under way. */
function deferredLoad() {
  const loads: Array<{ resolve: (r: Registrar<Ctx>) => void; reject: (e: Error) => void }> = [];
  const load = () => new Promise<Registrar<Ctx>>((resolve, reject) => loads.push({ resolve, reject }));
  return { load, loads };
}

describe('lazy services', () => {
  it('load on the first stream, once, and serve every stream that arrived meanwhile', async () => {
    const { load, loads } = deferredLoad();
    const registry = new ServiceRegistry<Ctx>().lazy('echo', load);
    const { a, pump } = pair(registry);
    const first = call(a, 'upper', 'one', pump);
    const second = call(a, 'upper', 'two', pump);
    expect(loads).toHaveLength(1); // the second stream waits for the same load
    loads[0]!.resolve(upper);
    await new Promise((r) => setImmediate(r));
    pump();
    expect(await first).toBe('ONE');
    expect(await second).toBe('TWO');
    expect(await call(a, 'upper', 'three', pump)).toBe('THREE');
    expect(loads).toHaveLength(1);
  });

  it('a method the loaded service lacks is not_found', async () => {
    const registry = new ServiceRegistry<Ctx>().lazy('echo', async () => upper);
    const { a, pump } = pair(registry);
    const pending = call(a, 'lower', 'x', pump);
    await new Promise((r) => setImmediate(r));
    pump();
    const err = await pending;
    expect(typeof err).not.toBe('string');
    expect((err as CmdopError).code).toBe('not_found');
  });

  it('a failed load aborts the waiting streams with a typed error, and the next stream loads again', async () => {
    const { load, loads } = deferredLoad();
    const registry = new ServiceRegistry<Ctx>().lazy('echo', load);
    const { a, pump } = pair(registry);
    const failed = call(a, 'upper', 'one', pump);
    loads[0]!.reject(new Error('module missing'));
    await new Promise((r) => setImmediate(r));
    pump();
    const err = await failed;
    expect((err as CmdopError).code).toBe('internal');
    expect((err as CmdopError).message).not.toMatch(/at .*\.js:\d+/); // one line, no stack
    const retried = call(a, 'upper', 'two', pump);
    expect(loads).toHaveLength(2);
    loads[1]!.resolve(upper);
    await new Promise((r) => setImmediate(r));
    pump();
    expect(await retried).toBe('TWO');
  });
});
