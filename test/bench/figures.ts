/** The bench's output: one record per figure, printed as a table and written to bench-results/latest.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Figure {
  name: string;
  unit: string;
  value: number;
  /** What it is compared with in the same run, or null when there is no fair peer. */
  peer: string | null;
  peer_value: number | null;
  /** value / peer_value, or null. */
  ratio: number | null;
  /** The target, in words (e.g. "<= 2000 ms", ">= 1.0x ssh"). */
  target: string;
}

export function figure(name: string, unit: string, value: number, target: string, peer?: { name: string; value: number }): Figure {
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    name,
    unit,
    value: round(value),
    peer: peer?.name ?? null,
    peer_value: peer ? round(peer.value) : null,
    ratio: peer && peer.value ? round(value / peer.value) : null,
    target,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export function report(figures: Figure[], dir: string): void {
  const rows = figures.map((f) => [f.name, `${f.value} ${f.unit}`, f.peer ? `${f.peer}: ${f.peer_value} ${f.unit}` : '-', f.ratio === null ? '-' : `${f.ratio}x`, f.target]);
  const head = ['figure', 'value', 'peer', 'ratio', 'target'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ');
  process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(figures, null, 2) + '\n');
  process.stdout.write(`wrote ${join(dir, 'latest.json')}\n`);
}

/** Bytes/s a stream delivers from now until it closes (an error rejects). */
export function rateUntilClose(r: NodeJS.EventEmitter): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let n = 0;
    r.on('data', (d: Uint8Array) => (n += d.length));
    r.once('error', reject);
    r.once('close', () => resolve(n / ((performance.now() - t0) / 1000)));
  });
}
