/** A one-line progress bar with rate and ETA on a terminal's stderr; silent when piped. */
export interface ProgressBar {
  update(done: number, total: number): void;
  finish(): void;
}

const REDRAW_MS = 100;

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatEta(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr, quiet = false): ProgressBar {
  if (quiet || !stream.isTTY) return { update() {}, finish() {} };
  const started = Date.now();
  let startBytes = -1;
  let last = 0;
  let lastLine = '';
  const draw = (done: number, total: number) => {
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? (done - startBytes) / secs : 0;
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    const width = 20;
    const fill = Math.round((pct / 100) * width);
    lastLine = `${label}  [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}%  ${formatBytes(done)}/${formatBytes(total)}  ${formatBytes(rate)}/s  ETA ${formatEta(rate > 0 ? (total - done) / rate : Infinity)}`;
    stream.write(`\r${lastLine}\x1b[K`);
  };
  let latest: [number, number] = [0, 0];
  return {
    update(done, total) {
      if (startBytes < 0) startBytes = done;
      latest = [done, total];
      const now = Date.now();
      if (now - last < REDRAW_MS && done < total) return;
      last = now;
      draw(done, total);
    },
    finish() {
      if (startBytes >= 0) draw(latest[0], latest[1]);
      if (lastLine) stream.write('\n');
    },
  };
}
