import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { ExecuteWatch, envelopeId, hasEndMarker, type WatchedRun } from '../../src/agent/grpc/execute-watch.js';
import { outputRead, MAX_OUTPUT_LIMIT, DEFAULT_OUTPUT_LIMIT } from '../../src/agent/grpc/output.js';
import { loopbackListen } from '../../src/agent/grpc/listen.js';
import { speaksHttp2 } from '../../src/agent/grpc/listener.js';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { permissionString } from '../../src/agent/grpc/files.js';
import { hostnameMatches } from '../../src/agent/grpc/sessions.js';
import { historyWindow } from '../../src/agent/terminal/ring.js';
import { parseDiscovery } from '../../src/link/discovery.js';
import { terminal } from '../../src/agent/grpc/gen/terminal.js';

// The official SDK's own envelope (services/terminal.ts in @cmdop/node 2026.3.1800).
const envelope = (id: string, cmd: string) => `printf "\\n<<CMD:${id}:START>>\\n"; ${cmd}; printf "\\n<<CMD:${id}:END:%d>>\\n" $?\n`;

describe('the execute watch (fake clock)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const run: WatchedRun = { id: 'abc123', sessionId: 's1', fromOffset: 10 };

  it('recognises the envelope, and the end marker but not the echo of the envelope', () => {
    expect(envelopeId(envelope('abc123', 'sleep 5'))).toBe('abc123');
    expect(envelopeId('echo hello\n')).toBeNull();
    expect(hasEndMarker(envelope('abc123', 'x'), 'abc123')).toBe(false);
    expect(hasEndMarker('\r\n<<CMD:abc123:END:130>>\r\n', 'abc123')).toBe(true);
    expect(hasEndMarker('\r\n<<CMD:other:END:0>>\r\n', 'abc123')).toBe(false);
  });

  it('while the poller polls nothing happens; once it is quiet, SIGINT, then SIGKILL if the job is still there', async () => {
    const signals: string[] = [];
    let done = false;
    const w = new ExecuteWatch({ finished: async () => done, signal: async (_r, s) => void signals.push(s), idleMs: 3000, killAfterMs: 2000, tickMs: 500 });
    w.started(run);
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(200);
      w.polled('s1', 'still running');
    }
    expect(signals).toEqual([]);
    await vi.advanceTimersByTimeAsync(3500);
    expect(signals).toEqual(['SIGINT']);
    await vi.advanceTimersByTimeAsync(2500);
    expect(signals).toEqual(['SIGINT', 'SIGKILL']);
    expect(w.size).toBe(0);
    done = true;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(signals).toEqual(['SIGINT', 'SIGKILL']);
  });

  it('an end marker in a poll, a finished job, or a closed session ends the watch without a signal', async () => {
    const signals: string[] = [];
    let done = false;
    const w = new ExecuteWatch({ finished: async () => done, signal: async (_r, s) => void signals.push(s) });
    w.started(run);
    w.polled('s1', 'x\r\n<<CMD:abc123:END:0>>\r\n');
    expect(w.size).toBe(0);
    w.started(run);
    done = true; // e.g. bash dropped the rest of the envelope: no job holds the terminal
    await vi.advanceTimersByTimeAsync(10_000);
    expect(w.size).toBe(0);
    w.started({ ...run, id: 'zzz' });
    w.closed('s1');
    expect(w.size).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(signals).toEqual([]);
    w.stop();
  });

  it('a session that is gone ends its watch quietly', async () => {
    const w = new ExecuteWatch({ finished: async () => { throw new Error('session not found'); }, signal: async () => {} });
    w.started(run);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(w.size).toBe(0);
  });
});

describe('GetOutput offsets and the history window', () => {
  it('offset 0 with a limit is the tail; any other offset reads forward; limits are bounded', () => {
    expect(outputRead(0, 20480)).toEqual({ maxBytes: 20480 });
    expect(outputRead(0, 0)).toEqual({ fromOffset: 0, maxBytes: DEFAULT_OUTPUT_LIMIT });
    expect(outputRead(500, 0)).toEqual({ fromOffset: 500, maxBytes: DEFAULT_OUTPUT_LIMIT });
    expect(outputRead(500, 100)).toEqual({ fromOffset: 500, maxBytes: 100 });
    expect(outputRead(0, 64 * 1024 * 1024).maxBytes).toBe(MAX_OUTPUT_LIMIT);
  });

  it('historyWindow stays inside what is kept, for any ring and request (property, 500 cases)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 0, max: 1 << 22 }), fc.option(fc.integer({ min: 0, max: 1 << 23 }), { nil: undefined }), fc.integer({ min: 0, max: 1 << 21 }), (capacity, end, from, max) => {
        const ring = { capacity, end, start: Math.max(0, end - capacity) };
        const w = historyWindow(ring, from, max);
        expect(w.from).toBeGreaterThanOrEqual(ring.start);
        expect(w.to).toBeLessThanOrEqual(ring.end);
        expect(w.from).toBeLessThanOrEqual(w.to);
        expect(w.to - w.from).toBeLessThanOrEqual(max > 0 ? max : capacity);
        if (from === undefined) expect(w.to).toBe(ring.end);
        else if (from >= ring.start && from <= ring.end) expect(w.from).toBe(from);
      }),
      { numRuns: 500 },
    );
  });
});

describe('small pure parts', () => {
  it('grpcListen takes loopback only', () => {
    expect(loopbackListen('127.0.0.1:5005')).toEqual({ host: '127.0.0.1', port: 5005 });
    expect(loopbackListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(loopbackListen('localhost:7')).toEqual({ host: 'localhost', port: 7 });
    for (const bad of ['0.0.0.0:5005', '10.0.0.1:80', ':5005', '127.0.0.1', 'example.com:1', '[::]:1']) expect(() => loopbackListen(bad)).toThrow(/loopback/);
  });

  it('permissions read as ls prints them; hostnames match as setMachine expects', () => {
    expect(permissionString('file', 0o644)).toBe('-rw-r--r--');
    expect(permissionString('dir', 0o755)).toBe('drwxr-xr-x');
    expect(permissionString('symlink', 0o777)).toBe('lrwxrwxrwx');
    expect(hostnameMatches('Web-1.prod', 'web-1', true)).toBe(true);
    expect(hostnameMatches('web-1.prod', 'web-1', false)).toBe(false);
    expect(hostnameMatches('web-1', 'WEB-1', false)).toBe(true);
    expect(hostnameMatches('web-1', 'db', true)).toBe(false);
  });

  it('a discovery file in either format parses; anything else is not one', () => {
    expect(parseDiscovery(JSON.stringify({ version: '2.0', pid: 5, transport: 'unix', address: '/x', startedAt: 'now' }))).toMatchObject({ pid: 5, address: '/x' });
    expect(parseDiscovery(JSON.stringify({ pid: 7, socket: '/s', version: '0.1', machineId: 'm', startedMs: 1 }))).toMatchObject({ pid: 7, socket: '/s' });
    for (const bad of ['', '{', 'null', '[]', '{"pid":"7"}', '{"socket":"/s"}']) expect(parseDiscovery(bad)).toBeNull();
  });

  it('decoding garbage as any served request throws or yields a message, never hangs (fuzz, 300 cases)', () => {
    const types = [terminal.CreateSessionRequest, terminal.GetOutputRequest, terminal.FileWriteRpcRequest, terminal.RunAgentRequest, terminal.FileSearchRpcRequest];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 0, max: types.length - 1 }), (bytes, i) => {
        try {
          expect(types[i]!.decode(bytes)).toBeTypeOf('object');
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('the gRPC listener\'s preface check (real sockets)', () => {
  async function pair(): Promise<{ server: Socket; client: Socket; close(): void }> {
    const srv = createServer({ pauseOnConnect: true });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const accepted = new Promise<Socket>((r) => srv.once('connection', r));
    const client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
    const server = await accepted;
    return { server, client, close: () => { client.destroy(); server.destroy(); srv.close(); } };
  }

  it('an HTTP/2 preface passes, with its bytes given back; garbage and silence do not', async () => {
    const ok = await pair();
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    ok.client.write(Buffer.concat([preface.subarray(0, 5)]));
    setImmediate(() => ok.client.write(Buffer.concat([preface.subarray(5), Buffer.from('rest')])));
    expect(await speaksHttp2(ok.server, 10_000)).toBe(true);
    const want = preface.length + 4;
    const back = await new Promise<string>((r) => {
      let all = '';
      ok.server.on('data', (d: Buffer) => (all += d.toString('latin1')).length >= want && r(all));
      ok.server.resume();
    });
    expect(back).toBe(preface.toString() + 'rest');
    ok.close();

    const junk = await pair();
    junk.client.write('GET / HTTP/1.1\r\n\r\n');
    expect(await speaksHttp2(junk.server, 10_000)).toBe(false);
    junk.close();

    const silent = await pair();
    expect(await speaksHttp2(silent.server, 50)).toBe(false); // the bound passes, nothing came
    silent.close();
  });
});
