/** `cmdop info <machine> [--json]`: the machine's system information. */
import { printJson, UsageError, type Command } from '../args.js';
import { CONNECT, connect } from './connect.js';

const gib = (n: number | null | undefined) => `${((n ?? 0) / 1024 ** 3).toFixed(1)} GiB`;

export const infoCommand: Command = {
  name: 'info',
  summary: "a machine's OS, CPU, memory, disks and network interfaces",
  usage: 'cmdop info <machine> [--json]',
  options: { ...CONNECT, json: { type: 'boolean' } },
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('usage: cmdop info <machine>');
    const client = await connect(v);
    try {
      const i = await client.machines.info(pos[0]!);
      if (v.json) return printJson(i);
      const lines = [
        ['hostname', i.hostname],
        ['os', `${i.distro} ${i.release} (${i.platform} ${i.arch}, kernel ${i.kernel})`],
        ['cpu', `${i.cpuModel}, ${i.cpuCores} cores @ ${i.cpuSpeedGhz} GHz, load ${i.load1?.toFixed(2)} ${i.load5?.toFixed(2)} ${i.load15?.toFixed(2)}`],
        ['memory', `${gib(i.memUsed)} used of ${gib(i.memTotal)}, ${gib(i.memAvailable)} available; swap ${gib(i.swapUsed)} of ${gib(i.swapTotal)}`],
        ...(i.disks ?? []).map((d) => ['disk', `${d.mount} (${d.fsType}) ${gib(d.used)} of ${gib(d.size)}`]),
        ...(i.interfaces ?? []).filter((n) => !n.internal).map((n) => ['interface', `${n.name} ${[...(n.ipv4 ?? []), ...(n.ipv6 ?? [])].join(' ')} ${n.mac}`]),
        ['uptime', `${Math.round(Number(i.uptimeS) / 3600)} h`],
        ['timezone', i.timezone],
        ['agent', `${i.agentVersion} (node ${i.nodeVersion})`],
      ];
      process.stdout.write(lines.map(([k, val]) => `${String(k).padEnd(10)} ${val}`).join('\n') + '\n');
    } finally {
      await client.close();
    }
  },
};
