// The terminal workloads behind the README's "data path, layer by layer" table, for profiling:
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" node --cpu-prof --cpu-prof-dir=DIR scripts/profile-terminal.mjs
// MODE=cat (RUNS x MIB MiB of text through a session, then through the bare chain unless CHAIN=0), MODE=echo (WARM+1000 keystrokes, then the same through the bare chain unless CHAIN=0) or
// MODE=tunnel (RUNS x MIB MiB down a tunnel, then down the bare chain); needs `npm run build`.
// Prints PIDS (client relay agent) and WINDOW <kind> <start us> <end us> <units> on the shared
// CLOCK_MONOTONIC, for scripts/profile-layers.mjs.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const B = new URL('../dist/test/bench/', import.meta.url).href;
const { benchCluster } = await import(B + 'cluster.js');
const { ECHO_PROGRAM, echoReady, echoRtts, makeFile, oursThroughput, sdkEcho } = await import(B + 'terminal.js');
const { median, percentile, rateUntilClose } = await import(B + 'figures.js');
const { startChain } = await import(B + 'tls-chain.js');
const mono = () => Number(process.hrtime.bigint() / 1000n);
const dir = mkdtempSync(join(tmpdir(), 'cmdop-prof-'));
// Each process's CPU (user + system, from /proc) per unit over a window: all threads, and the
// share on threads other than the main one (V8's GC helpers, libuv's pool).
const ticks = (f) => {
  const v = readFileSync(f, 'utf8').split(') ')[1].split(' ');
  return ((Number(v[11]) + Number(v[12])) * 1000) / 100;
};
const cpuMs = (pid) => {
  const all = ticks(`/proc/${pid}/stat`);
  let other = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) if (tid !== String(pid)) other += ticks(`/proc/${pid}/task/${tid}/stat`);
  return [all, other];
};
/** Runs `work` (returning its units: MiB, or keystrokes), printing the WINDOW and each process's CPU per unit. */
const measured = async (label, pids, work) => {
  const c0 = pids.map(cpuMs);
  const w0 = mono();
  const units = await work();
  console.log('WINDOW', label, w0, mono(), units);
  // Per MiB in ms; per keystroke in us.
  const scale = label.includes('echo') ? 1000 : 1;
  const per = pids.map((pid, i) => cpuMs(pid).map((v, j) => (((v - c0[i][j]) * scale) / units).toFixed(2)));
  console.log(label.includes('echo') ? 'CPU us/key' : 'CPU ms/MiB', label, per.map(([a, o]) => `${a} (${o} off-main)`).join(' '), '(this process, relay, agent side)');
};
const bc = await benchCluster(join(dir, 'c'), 'bench', (process.env.AGENT_ARGS ?? '').split(' ').filter(Boolean));
const t = bc.client.terminal;
console.log('PIDS', process.pid, bc.relayPid, bc.agentPid);
const mode = process.env.MODE ?? 'cat';
if (mode === 'cat') {
  const runs = Number(process.env.RUNS ?? 2);
  const file = join(dir, 'big.txt');
  const { size, lines } = makeFile(file, Number(process.env.MIB ?? 256) * 1024 * 1024);
  const mib = (runs * (size + lines)) / 1048576;
  await measured('cat', [process.pid, bc.relayPid, bc.agentPid], async () => {
    for (let i = 0; i < runs; i++) console.log('cat MB/s', ((await oursThroughput(t, file, size + lines)) / 1e6).toFixed(1));
    return mib;
  });
  if (process.env.CHAIN !== '0') {
    // The same file through the bare chain's pty, each connection its own `cat` (the chain's
    // processes are forked with this process's flags, so they are profiled too).
    const chain = await startChain({ pty: ['/bin/cat', file] });
    console.log('CHAIN PIDS', chain.pids.relay, chain.pids.agent);
    await measured('chain', [process.pid, chain.pids.relay, chain.pids.agent], async () => {
      for (let i = 0; i < runs; i++) console.log('chain cat MB/s', ((await rateUntilClose(await chain.connect())) / 1e6).toFixed(1));
      return mib;
    });
    chain.stop();
  }
} else if (mode === 'tunnel') {
  // MIB MiB down a tunnel, RUNS times, then the same through the bare chain (its processes are
  // forked with this process's flags, so they are profiled too).
  const { createServer, connect } = await import('node:net');
  const bytes = Number(process.env.MIB ?? 512) * 1024 * 1024;
  const runs = Number(process.env.RUNS ?? 2);
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const src = createServer((s) => {
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      s.end();
    };
    s.on('error', () => undefined);
    pump();
  });
  await new Promise((r) => src.listen(0, '127.0.0.1', r));
  const port = src.address().port;
  const down = (p, label, pids) =>
    measured(label, pids, async () => {
      for (let i = 0; i < runs; i++) console.log(label, 'MB/s', ((await rateUntilClose(connect({ port: p, host: '127.0.0.1' }))) / 1e6).toFixed(1));
      return (runs * bytes) / 1048576;
    });
  const tun = await bc.client.tunnels.open('bench', { remotePort: port });
  await rateUntilClose(connect({ port: tun.localPort, host: '127.0.0.1' })); // warm up
  await down(tun.localPort, 'tunnel', [process.pid, bc.relayPid, bc.agentPid]);
  await tun.close();
  const chain = await startChain({ port });
  console.log('CHAIN PIDS', chain.pids.relay, chain.pids.agent);
  await rateUntilClose(connect({ port: chain.port, host: '127.0.0.1' }));
  await down(chain.port, 'chain', [process.pid, chain.pids.relay, chain.pids.agent]);
  chain.stop();
  src.close();
} else {
  // WARM+1000 keystrokes through a session, then (unless CHAIN=0) through the bare chain to the
  // same echo program; CPU per keystroke of each process beside each.
  const warm = Number(process.env.WARM ?? 20000);
  const keys = warm + 1000;
  const e = await sdkEcho(t);
  let r;
  await measured('echo', [process.pid, bc.relayPid, bc.agentPid], async () => {
    r = await e.measure(warm, 1000);
    return keys;
  });
  console.log('echo p50', median(r.warm).toFixed(3), 'p99', percentile(r.warm, 99).toFixed(3));
  await e.close();
  if (process.env.CHAIN !== '0') {
    const chain = await startChain({ pty: ['/bin/sh', '-c', ECHO_PROGRAM] });
    console.log('CHAIN PIDS', chain.pids.relay, chain.pids.agent);
    const c = await chain.connect();
    await echoReady((cb) => c.on('data', cb));
    c.removeAllListeners('data');
    await measured('chain-echo', [process.pid, chain.pids.relay, chain.pids.agent], async () => {
      r = await echoRtts(() => c.write('x'), (cb) => c.on('data', cb), warm, 1000);
      return keys;
    });
    console.log('chain echo p50', median(r.warm).toFixed(3), 'p99', percentile(r.warm, 99).toFixed(3));
    c.destroy();
    chain.stop();
  }
}
await bc.stop();
