// A keystroke's round trip hop by hop, ours against the bare chain: the README's hop table.
//   sudo node scripts/hop-times.mjs        (needs `npm run build`, Linux perf, and root for tracepoints)
// Runs MODE=echo scripts/profile-terminal.mjs under `perf record` of the read, write and
// epoll_pwait tracepoints of every process, then follows each round trip through the processes
// (client write -> relay read -> relay write -> agent read -> pty write -> cat -> agent read ->
// agent write -> relay read -> relay write -> client read -> client write) and prints, for each
// step, the median and 90th percentile in microseconds over the second half of each window.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const dir = mkdtempSync(join(tmpdir(), 'cmdop-hops-'));
const data = join(dir, 'perf.data');
const events = ['sys_exit_epoll_pwait', 'sys_exit_read', 'sys_enter_write', 'sys_enter_writev'].map((e) => `syscalls:${e}`).join(',');
const rec = spawn('perf', ['record', '-a', '-e', events, '-o', data], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 1000)); // perf attaches before the workload starts
const run = spawnSync(process.execPath, [new URL('./profile-terminal.mjs', import.meta.url).pathname], {
  env: { ...process.env, MODE: 'echo', WARM: process.env.WARM ?? '8000' },
  encoding: 'utf8',
});
rec.kill('SIGINT');
await new Promise((r) => rec.once('exit', r));
const out = run.stdout;
process.stdout.write(out);
const num = (re) => re.exec(out)?.slice(1).map(Number) ?? [];
const [client, relay, agent] = num(/^PIDS (\d+) (\d+) (\d+)/m);
const [chainRelay, chainAgent] = num(/^CHAIN PIDS (\d+) (\d+)/m);
const ours = num(/^WINDOW echo (\d+) (\d+)/m).map((us) => us / 1e6);
const chain = num(/^WINDOW chain-echo (\d+) (\d+)/m).map((us) => us / 1e6);

const keep = new Set([client, relay, agent, chainRelay, chainAgent]);
const line = /^\s*(\S+)\s+(\d+)\/(\d+)\s+(\d+\.\d+):\s+syscalls:(\S+):/;
const ev = [];
const perfScript = spawn('perf', ['script', '-i', data, '-F', 'comm,pid,tid,time,event,trace'], { stdio: ['ignore', 'pipe', 'ignore'] });
for await (const l of createInterface({ input: perfScript.stdout })) {
  const m = line.exec(l);
  if (!m || m[2] !== m[3] || !(m[1] === 'cat' || keep.has(Number(m[2])))) continue;
  ev.push({ comm: m[1], pid: Number(m[2]), t: Number(m[4]), kind: m[5] });
}
/** The `cat` with the most events in a window: the echo program's. */
const catIn = ([a, b]) => {
  const n = new Map();
  for (const e of ev) if (e.comm === 'cat' && e.t >= a && e.t <= b) n.set(e.pid, (n.get(e.pid) ?? 0) + 1);
  return [...n].sort((x, y) => y[1] - x[1])[0]?.[0];
};
const q = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length * p)] ?? NaN;

function hops(label, [a, b], C, R, A, K) {
  const names = new Map([[C, 'client'], [R, 'relay'], [A, 'agent'], [K, 'cat']]);
  const seq = [[C, 'write'], [R, 'read'], [R, 'write'], [A, 'read'], [A, 'write'], [K, 'read'], [K, 'write'], [A, 'read'], [A, 'write'], [R, 'read'], [R, 'write'], [C, 'read'], [C, 'write']];
  const segs = seq.slice(1).map(() => []);
  let k = 0;
  let times = [];
  const from = a + (b - a) / 2; // the warm half
  for (const e of ev) {
    if (e.t < from || e.t > b) continue;
    const [pid, want] = seq[k];
    const hit = e.pid === pid && (want === 'read' ? e.kind === 'sys_exit_read' : e.kind === 'sys_enter_write' || e.kind === 'sys_enter_writev');
    if (!hit) continue;
    times.push(e.t);
    if (++k === seq.length) {
      for (let j = 0; j < segs.length; j++) segs[j].push((times[j + 1] - times[j]) * 1e6);
      times = [times.at(-1)];
      k = 1;
    }
  }
  console.log(`== ${label}: ${segs[0].length} round trips (us: p50, p90)`);
  for (let j = 0; j < segs.length; j++) {
    const [p1, w1] = seq[j];
    const [p2, w2] = seq[j + 1];
    const what = p1 === p2 ? `${names.get(p1)} ${w1} -> ${w2} (in the process)` : `${names.get(p1)} ${w1} -> ${names.get(p2)} ${w2} (wakeup)`;
    console.log(`  ${what.padEnd(44)} ${q(segs[j], 0.5).toFixed(0).padStart(4)} ${q(segs[j], 0.9).toFixed(0).padStart(4)}`);
  }
  const total = segs[0].map((_, i) => segs.reduce((s, x) => s + x[i], 0));
  console.log(`  round trip${' '.repeat(35)}${q(total, 0.5).toFixed(0).padStart(4)} ${q(total, 0.9).toFixed(0).padStart(4)}`);
}
hops('ours', ours, client, relay, agent, catIn(ours));
hops('bare chain', chain, client, chainRelay, chainAgent, catIn(chain));
