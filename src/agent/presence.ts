/** The light health summary each heartbeat carries (cheap probes only: no systeminformation here). */
import { loadavg, totalmem, freemem } from 'node:os';
import { statfsSync } from 'node:fs';
import type { cmdop } from '../protocol/gen/cmdop.js';

export function presenceSummary(root = process.platform === 'win32' ? 'C:\\' : '/'): cmdop.v1.IPresenceSummary {
  const s: cmdop.v1.IPresenceSummary = { load1: loadavg()[0] ?? 0, memTotal: totalmem(), memUsed: totalmem() - freemem() };
  try {
    const fs = statfsSync(root);
    s.diskTotal = fs.blocks * fs.bsize;
    s.diskUsed = (fs.blocks - fs.bfree) * fs.bsize;
  } catch {
    // statfs is missing on some platforms; the summary simply has no disk figures.
  }
  return s;
}
