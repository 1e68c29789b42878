// What each link costs in the V8 heap, by constructor, between two heap snapshots of one process:
//   node --max-old-space-size=8000 scripts/heap-diff.mjs BASE.heapsnapshot LOADED.heapsnapshot LINKS [ROWS]
// (BASE before the links, LOADED with LINKS of them up; a relay takes snapshots on SIGUSR2 when run
// with --heapsnapshot-signal=SIGUSR2, and the relay-nodes bench holds its nodes for that with
// BENCH_NODES_HOLD_MS). With --buffers, lists LOADED's ArrayBuffers instead, grouped by the path
// that retains them: how the ALPN copies pinning Node's 8 KB Buffer pool chunks were found.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const buffers = args.includes('--buffers');
const [baseFile, loadedFile, linksArg, rowsArg] = args.filter((a) => a !== '--buffers');

function load(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const m = s.snapshot.meta;
  return { s, NF: m.node_fields.length, EF: m.edge_fields.length, nT: m.node_types[0], eT: m.edge_types[0], iT: m.node_fields.indexOf('type'), iN: m.node_fields.indexOf('name'), iS: m.node_fields.indexOf('self_size'), iE: m.node_fields.indexOf('edge_count') };
}

function byConstructor(h) {
  const out = new Map();
  let total = 0;
  for (let i = 0; i < h.s.nodes.length; i += h.NF) {
    const t = h.nT[h.s.nodes[i + h.iT]];
    let name = h.s.strings[h.s.nodes[i + h.iN]];
    if (t === 'closure') name = `closure ${name.slice(0, 40)}`;
    else if (t !== 'object') name = `(${t})${t === 'native' ? name.slice(0, 40) : ''}`;
    const e = out.get(name) ?? [0, 0];
    e[0] += h.s.nodes[i + h.iS];
    e[1]++;
    out.set(name, e);
    total += h.s.nodes[i + h.iS];
  }
  return { out, total };
}

function retainedBuffers(h) {
  const N = h.s.nodes.length / h.NF;
  const rev = Array.from({ length: N }, () => []);
  const store = new Map();
  for (let n = 0, e = 0; n < N; n++) {
    for (let k = 0; k < h.s.nodes[n * h.NF + h.iE]; k++, e += h.EF) {
      const type = h.eT[h.s.edges[e]];
      const to = h.s.edges[e + 2] / h.NF;
      const edge = type === 'element' || type === 'hidden' ? `[${h.s.edges[e + 1]}]` : h.s.strings[h.s.edges[e + 1]];
      if (edge === 'backing_store') store.set(n, h.s.nodes[to * h.NF + h.iS]);
      if (type !== 'weak') rev[to].push([n, edge]);
    }
  }
  const name = (n) => h.s.strings[h.s.nodes[n * h.NF + h.iN]].slice(0, 40);
  const groups = new Map();
  for (const [n, size] of store) {
    const path = [];
    const seen = new Set([n]);
    for (let cur = n, d = 0; d < 5; d++) {
      const r = rev[cur].find(([p]) => !seen.has(p));
      if (!r) break;
      path.push(`${name(r[0])}.${r[1]}`);
      seen.add((cur = r[0]));
    }
    const key = path.join(' < ');
    const g = groups.get(key) ?? [0, 0];
    g[0] += size;
    g[1]++;
    groups.set(key, g);
  }
  return [...groups].sort((a, b) => b[1][0] - a[1][0]);
}

const links = Number(linksArg);
const rows = Number(rowsArg ?? 40);
if (buffers) {
  for (const [path, [size, count]] of retainedBuffers(load(loadedFile)).slice(0, rows)) console.log(`${(size / 1048576).toFixed(2)} MB in ${count} buffers (${(size / links).toFixed(0)} B per link)\n    ${path}`);
} else {
  const base = byConstructor(load(baseFile));
  const loaded = byConstructor(load(loadedFile));
  console.log(`per link: ${((loaded.total - base.total) / links).toFixed(0)} B of heap`);
  const diff = [...loaded.out].map(([k, [size, count]]) => [k, size - (base.out.get(k)?.[0] ?? 0), count - (base.out.get(k)?.[1] ?? 0)]);
  for (const [k, size, count] of diff.sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`${(size / links).toFixed(0).padStart(6)} B ${(count / links).toFixed(2).padStart(6)} x  ${k}`);
}
