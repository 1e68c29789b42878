// Self time per layer of one process's CPU profile, per unit of work, inside a window:
//   node scripts/profile-layers.mjs FILE.cpuprofile UNITS UNIT_NAME [START_US END_US]
// (the window and units as scripts/profile-terminal.mjs prints them). Layers are told by the
// file each sampled function is in; start-up (module loading) is listed apart and not counted.
import { readFileSync } from 'node:fs';
const [file, units, unit = 'unit', w0 = 0, w1 = Infinity] = [process.argv[2], Number(process.argv[3]), process.argv[4], Number(process.argv[5] ?? 0), Number(process.argv[6] ?? Infinity)];
const p = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map();
let ts = p.startTime;
for (let i = 0; i < p.samples.length; i++) {
  ts += p.timeDeltas[i] ?? 0;
  if (ts >= w0 && ts <= w1) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const RULES = [
  [(f) => f === '(garbage collector)', 'garbage collection'],
  [(f, u) => !u && f === 'writeBuffer', 'plain socket or pty write'],
  [(f, u) => !u && /^writev|^write(Utf8|Latin1)String$/.test(f), 'socket write (TLS + syscall)'],
  [(f, u) => /stream_base_commons|internal\/streams|node:net|node:events|tls/.test(u), 'Node streams, net and tls JS'],
  [(f, u) => /node_modules\/ws\//.test(u), 'ws (framing, parsing)'],
  [(f, u) => /xterm/.test(u), 'terminal emulator (xterm)'],
  [(f, u) => /node-pty|src\/platform\/pty/.test(u), 'node-pty'],
  [(f, u) => /src\/agent\/recordings|node:zlib/.test(u), 'recording'],
  [(f, u) => /src\/agent\/terminal|src\/client\/terminal/.test(u), 'terminal session'],
  [(f, u) => /src\/protocol\/(codec|messages|headroom|varint)/.test(u), 'framing (codec, messages)'],
  [(f, u) => /src\/protocol\/(mux|stream|flow)|src\/link\//.test(u), 'link, mux, stream, flow control'],
  [(f, u) => /src\/relay\//.test(u), 'relay router and Outbox'],
  [(f, u) => /node:buffer|internal\/buffer/.test(u), 'Buffer copies and joins'],
  [(f, u) => /modules|loader|realm|esm/.test(u) || /compile|wrapSafe|internalModuleStat|readFileUtf8/.test(f), 'start-up (not counted)'],
];
const by = new Map();
let busy = 0;
for (const node of p.nodes) {
  const t = self.get(node.id);
  if (!t) continue;
  const { functionName: f, url: u } = node.callFrame;
  if (f === '(idle)' || f === '(program)') continue;
  const layer = RULES.find(([test]) => test(f, u))?.[1] ?? 'other';
  if (layer !== 'start-up (not counted)') busy += t;
  by.set(layer, (by.get(layer) ?? 0) + t);
}
console.log(`${(busy / units).toFixed(1).padStart(9)} us/${unit}  all JS-thread CPU`);
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1])) console.log(`${(v / units).toFixed(1).padStart(9)} us/${unit}  ${k}`);
