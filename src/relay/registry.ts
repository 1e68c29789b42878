/**
 * Machines and their presence: which agents have a live link now, and the views clients list.
 * Resolves a client's target (machine id or hostname) to the agent's connection.
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { ConflictError, NotFoundError, PermissionError, UnavailableError, ValidationError } from '../errors.js';
import type { RelayState } from './state.js';
import type { MachineRecord } from './store.js';
import type { Conn } from './conn.js';

const Presence = cmdop.v1.Presence;
/** Default and largest page of machines.list. */
export const LIST_PAGE_DEFAULT = 100;
export const LIST_PAGE_MAX = 1000;

export class Registry {
  private readonly online = new Map<string, Conn>();
  private readonly summaries = new Map<string, cmdop.v1.IPresenceSummary>();
  private readonly connectedAt = new Map<string, number>();

  constructor(private readonly state: RelayState) {}

  get onlineCount(): number {
    return this.online.size;
  }

  agentConn(machineId: string): Conn | undefined {
    return this.online.get(machineId);
  }

  /** Registers a live agent link; returns the link it replaces, if any. */
  setOnline(machineId: string, conn: Conn): Conn | undefined {
    const old = this.online.get(machineId);
    this.online.set(machineId, conn);
    this.connectedAt.set(machineId, Date.now());
    this.seen(machineId);
    return old;
  }

  setOffline(machineId: string, conn: Conn): void {
    if (this.online.get(machineId) !== conn) return; // already replaced by a newer link
    this.online.delete(machineId);
    this.connectedAt.delete(machineId);
    this.seen(machineId);
  }

  seen(machineId: string, summary?: cmdop.v1.IPresenceSummary | null): void {
    const m = this.state.machine(machineId);
    if (m) {
      m.lastSeenMs = Date.now();
      this.state.touch();
    }
    if (summary) this.summaries.set(machineId, summary);
  }

  /** Finds a machine by id, else by hostname or name. More than one match is a conflict. */
  find(target: string): MachineRecord {
    const byId = this.state.machine(target);
    if (byId) return byId;
    const matches = this.state.machines().filter((m) => m.hostname === target || m.name === target);
    if (matches.length === 0) throw new NotFoundError(`no machine ${target}`, { detail: 'machine_not_found' });
    if (matches.length > 1) throw new ConflictError(`${matches.length} machines are called ${target}; use a machine id`);
    return matches[0]!;
  }

  /** The live link of the target's agent, or a typed error. */
  resolve(target: string): Conn {
    const m = this.find(target);
    if (m.disabled) throw new PermissionError(`machine ${m.hostname} is disabled`);
    const conn = this.online.get(m.id);
    if (!conn) throw new UnavailableError(`machine ${m.hostname} is offline`, { detail: 'machine_offline' });
    return conn;
  }

  view(m: MachineRecord): cmdop.v1.IMachine {
    const on = this.online.has(m.id);
    return {
      id: m.id,
      hostname: m.hostname,
      name: m.name,
      labels: m.labels,
      presence: on ? Presence.ONLINE : Presence.OFFLINE,
      lastSeenMs: m.lastSeenMs,
      agentVersion: m.agentVersion,
      enrolledMs: m.enrolledMs,
      connectedMs: this.connectedAt.get(m.id) ?? 0,
      os: m.os,
      arch: m.arch,
      disabled: m.disabled,
      summary: on ? this.summaries.get(m.id) ?? null : null,
    };
  }

  /** One page of machines, ordered by hostname then id; the cursor is the last item's sort key. */
  list(req: cmdop.v1.ListMachinesRequest): cmdop.v1.IListMachinesResponse {
    const limit = req.limit || LIST_PAGE_DEFAULT;
    if (limit > LIST_PAGE_MAX) throw new ValidationError(`limit must be at most ${LIST_PAGE_MAX}`);
    let after: string | null = null;
    if (req.cursor) {
      after = Buffer.from(req.cursor, 'base64url').toString();
      if (!after.includes('\0')) throw new ValidationError('invalid cursor');
    }
    const key = (m: MachineRecord) => `${m.hostname}\0${m.id}`;
    const wanted = req.presence || Presence.PRESENCE_UNSPECIFIED;
    const all = this.state
      .machines()
      .filter((m) => wanted === Presence.PRESENCE_UNSPECIFIED || (this.online.has(m.id) ? Presence.ONLINE : Presence.OFFLINE) === wanted)
      .filter((m) => after === null || key(m) > after)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const page = all.slice(0, limit);
    const more = all.length > limit;
    return { machines: page.map((m) => this.view(m)), nextCursor: more ? Buffer.from(key(page[page.length - 1]!)).toString('base64url') : '' };
  }
}
