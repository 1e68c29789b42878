/**
 * Machines and their presence: which agents have a live link now, and the views clients list.
 * Resolves a client's target (machine id or hostname) to the agent's connection.
 */
import { sshPublicKey } from '../link/ssh-key.js';
import { cmdop } from '../protocol/gen/cmdop.js';
import { CAPABILITIES } from '../control/capabilities.js';
import { ConflictError, NotFoundError, PermissionError, UnavailableError, ValidationError } from '../errors.js';
import type { RelayState } from './state.js';
import type { KeyRecord, MachineRecord } from './store/records.js';
import type { Conn } from './conn.js';
import type { RouteConn } from './router.js';

/** Machines whose agents other relay nodes hold (cluster mode). */
export interface RemotePresence {
  /** Is the machine's agent linked to another live node? */
  has(machineId: string): boolean;
  /** When that link came up (ms), or 0. */
  since(machineId: string): number;
  /** The cluster link to the node holding it; throws UnavailableError if that node is unreachable now. */
  route(machineId: string): RouteConn | null;
  /** Every machine other nodes hold. */
  count(): number;
}

const Presence = cmdop.v1.Presence;
/** Default and largest page of machines.list. */
export const LIST_PAGE_DEFAULT = 100;
export const LIST_PAGE_MAX = 1000;

/** The SSH host key line of a machine's identity key (base64 SPKI DER), or '' if it is not Ed25519. */
function sshHostKeyOf(spkiB64: string): string {
  try {
    return sshPublicKey(Buffer.from(spkiB64, 'base64')).line;
  } catch {
    return '';
  }
}

export class Registry {
  private readonly online = new Map<string, Conn>();
  private readonly summaries = new Map<string, cmdop.v1.IPresenceSummary>();
  private readonly connectedAt = new Map<string, number>();
  /** Set in cluster mode. */
  remote: RemotePresence | null = null;
  private readonly upListeners = new Set<(machineId: string, conn: Conn, up: boolean) => void>();

  constructor(private readonly state: RelayState) {}

  /** Agents linked to this node. */
  get onlineCount(): number {
    return this.online.size;
  }

  /** Calls `fn` when an agent link here comes up or goes down (cluster presence writes it). */
  onPresence(fn: (machineId: string, conn: Conn, up: boolean) => void): void {
    this.upListeners.add(fn);
  }

  /** The agents linked here. */
  localAgents(): IterableIterator<[string, Conn]> {
    return this.online.entries();
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
    for (const fn of this.upListeners) fn(machineId, conn, true);
    return old;
  }

  setOffline(machineId: string, conn: Conn): void {
    if (this.online.get(machineId) !== conn) return; // already replaced by a newer link
    this.online.delete(machineId);
    this.connectedAt.delete(machineId);
    this.seen(machineId);
    for (const fn of this.upListeners) fn(machineId, conn, false);
  }

  seen(machineId: string, summary?: cmdop.v1.IPresenceSummary | null): void {
    this.state.seen(machineId);
    if (summary) this.summaries.set(machineId, summary);
  }

  capsOn(key: KeyRecord, m: MachineRecord): Set<string> {
    return this.state.capsOn(key, m);
  }

  /** Linked here or, in a cluster, to another live node. */
  isOnline(machineId: string): boolean {
    return this.online.has(machineId) || !!this.remote?.has(machineId);
  }

  /** The machines a key reaches (all of them for the admin socket, whose key is null). */
  visible(key: KeyRecord | null): MachineRecord[] {
    const all = this.state.machines();
    return key ? all.filter((m) => this.state.capsOn(key, m).size > 0) : all;
  }

  /**
   * Finds a machine by id, else by hostname or name, among those the key reaches: one outside
   * its reach is "not found", exactly as one that does not exist. More than one match is a conflict.
   */
  find(target: string, key: KeyRecord | null = null): MachineRecord {
    return this.findWithCaps(target, key).machine;
  }

  /** find(), with the key's capabilities on the machine (computed once, for the grant check). */
  findWithCaps(target: string, key: KeyRecord | null): { machine: MachineRecord; caps: ReadonlySet<string> | null } {
    const inReach = (m: MachineRecord) => {
      const caps = key ? this.state.capsOn(key, m) : null;
      return caps === null || caps.size > 0 ? { machine: m, caps } : null;
    };
    const byId = this.state.machine(target);
    const hit = byId && inReach(byId);
    if (hit) return hit;
    // By name: match first, then check reach on the matches only (not on every machine).
    const matches = this.state
      .machines()
      .filter((m) => m.hostname === target || m.name === target)
      .map(inReach)
      .filter((x) => x !== null);
    if (matches.length === 0) throw new NotFoundError(`no machine ${target}`, { detail: 'machine_not_found' });
    if (matches.length > 1) throw new ConflictError(`${matches.length} machines are called ${target}; use a machine id`);
    return matches[0]!;
  }

  /** The machine and the live link of its agent, or a typed error. */
  resolve(target: string, key: KeyRecord | null): { machine: MachineRecord; conn: RouteConn; caps: ReadonlySet<string> | null } {
    const { machine: m, caps } = this.findWithCaps(target, key);
    if (m.disabled) throw new PermissionError(`machine ${m.hostname} is disabled`);
    const conn = this.online.get(m.id) ?? this.remote?.route(m.id);
    if (!conn) throw new UnavailableError(`machine ${m.hostname} is offline`, { detail: 'machine_offline' });
    return { machine: m, conn, caps };
  }

  /**
   * A stream another relay node routed here over a cluster link: by machine id, to an agent
   * linked to this node only (one hop, never onward), with the grants that node checked.
   */
  resolveHere(machineId: string, caps: readonly string[]): { machine: MachineRecord; conn: RouteConn; caps: ReadonlySet<string> } {
    const m = this.state.machine(machineId);
    const conn = this.online.get(machineId);
    if (!m || !conn) throw new UnavailableError(`machine ${m?.hostname ?? machineId} is not linked to this relay node now`, { detail: 'machine_offline' });
    if (m.disabled) throw new PermissionError(`machine ${m.hostname} is disabled`);
    return { machine: m, conn, caps: new Set(caps) };
  }

  /** The machine as a caller sees it; with `caller`, the capabilities that key holds on it. */
  view(m: MachineRecord, caller: KeyRecord | null = null): cmdop.v1.IMachine {
    const on = this.isOnline(m.id);
    return {
      id: m.id,
      hostname: m.hostname,
      name: m.name,
      labels: m.labels,
      presence: on ? Presence.ONLINE : Presence.OFFLINE,
      lastSeenMs: m.lastSeenMs,
      agentVersion: m.agentVersion,
      enrolledMs: m.enrolledMs,
      connectedMs: this.connectedAt.get(m.id) ?? this.remote?.since(m.id) ?? 0,
      os: m.os,
      arch: m.arch,
      disabled: m.disabled,
      summary: on ? this.summaries.get(m.id) ?? null : null,
      sshHostKey: sshHostKeyOf(m.publicKey),
      caps: caller ? [...this.state.capsOn(caller, m)].sort() : [...CAPABILITIES],
    };
  }

  /** One page of machines, ordered by hostname then id; the cursor is the last item's sort key. */
  list(req: cmdop.v1.IListMachinesRequest, caller: KeyRecord | null, among?: readonly MachineRecord[]): cmdop.v1.IListMachinesResponse {
    const limit = req.limit || LIST_PAGE_DEFAULT;
    if (limit > LIST_PAGE_MAX) throw new ValidationError(`limit must be at most ${LIST_PAGE_MAX}`);
    let after: string | null = null;
    if (req.cursor) {
      after = Buffer.from(req.cursor, 'base64url').toString();
      if (!after.includes('\0')) throw new ValidationError('invalid cursor');
    }
    const key = (m: MachineRecord) => `${m.hostname}\0${m.id}`;
    const wanted = req.presence || Presence.PRESENCE_UNSPECIFIED;
    const all = (among ?? this.visible(caller))
      .filter((m) => wanted === Presence.PRESENCE_UNSPECIFIED || (this.isOnline(m.id) ? Presence.ONLINE : Presence.OFFLINE) === wanted)
      .filter((m) => after === null || key(m) > after)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const page = all.slice(0, limit);
    const more = all.length > limit;
    return { machines: page.map((m) => this.view(m, caller)), nextCursor: more ? Buffer.from(key(page[page.length - 1]!)).toString('base64url') : '' };
  }
}
