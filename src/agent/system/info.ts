/**
 * system.info: hostname, OS, CPU, memory, disks, network interfaces, uptime, timezone, versions,
 * from systeminformation. Probes run child processes and can take a second; they run off the
 * event loop's critical path (async), concurrent callers share one probe, and results are cached
 * for INFO_TTL_MS.
 */
import { hostname, loadavg } from 'node:os';
import type { cmdop } from '../../protocol/gen/cmdop.js';
import { VERSION } from '../../version.js';

/** How long one probe's results are served. */
export const INFO_TTL_MS = 10_000;

export class InfoCache {
  private value: cmdop.v1.ISystemInfo | null = null;
  private at = 0;
  private inflight: Promise<cmdop.v1.ISystemInfo> | null = null;

  constructor(private readonly name: string = hostname(), private readonly ttlMs = INFO_TTL_MS) {}

  get(): Promise<cmdop.v1.ISystemInfo> {
    if (this.value && Date.now() - this.at < this.ttlMs) return Promise.resolve(this.value);
    this.inflight ??= probe(this.name)
      .then((v) => {
        this.value = v;
        this.at = Date.now();
        return v;
      })
      .finally(() => (this.inflight = null));
    return this.inflight;
  }
}

async function probe(name: string): Promise<cmdop.v1.ISystemInfo> {
  // Loaded on first use: it is large, and most agents are asked for info rarely.
  const si = (await import('systeminformation')).default;
  const [os, cpu, load, mem, disks, nics, time] = await Promise.all([si.osInfo(), si.cpu(), si.currentLoad(), si.mem(), si.fsSize(), si.networkInterfaces(), Promise.resolve(si.time())]);
  const [l1, l5, l15] = loadavg();
  const list = Array.isArray(nics) ? nics : [nics];
  const byName = new Map<string, cmdop.v1.INetInterface>();
  for (const n of list) {
    const e = byName.get(n.iface) ?? { name: n.iface, ipv4: [], ipv6: [], mac: n.mac, internal: n.internal };
    if (n.ip4) e.ipv4!.push(n.ip4);
    if (n.ip6) e.ipv6!.push(n.ip6);
    byName.set(n.iface, e);
  }
  return {
    hostname: name,
    platform: os.platform,
    distro: os.distro,
    release: os.release,
    kernel: os.kernel,
    arch: os.arch,
    cpuModel: `${cpu.manufacturer} ${cpu.brand}`.trim(),
    cpuCores: cpu.cores,
    cpuSpeedGhz: cpu.speed,
    load1: l1 ?? 0,
    load5: l5 ?? 0,
    load15: l15 ?? 0,
    cpuPercent: load.currentLoad,
    memTotal: mem.total,
    memUsed: mem.active,
    memAvailable: mem.available,
    swapTotal: mem.swaptotal,
    swapUsed: mem.swapused,
    disks: disks.map((d) => ({ mount: d.mount, fsType: d.type, size: d.size, used: d.used })),
    interfaces: [...byName.values()],
    uptimeS: Math.round(Number(time.uptime)),
    timezone: time.timezone,
    agentVersion: VERSION,
    nodeVersion: process.versions.node,
    collectedMs: Date.now(),
  };
}
