/** `client.machines`: the relay's machines registry. */
import { cmdop } from '../protocol/gen/cmdop.js';
import { plain } from '../protocol/plain.js';
import type { Caller } from './caller.js';
import { AskStream, askRequest, type AskOptions } from './ask.js';

export type Presence = 'online' | 'offline';

export interface PresenceSummary {
  load1: number;
  memUsed: number;
  memTotal: number;
  diskUsed: number;
  diskTotal: number;
}

export interface Machine {
  id: string;
  hostname: string;
  name: string;
  labels: Record<string, string>;
  presence: Presence;
  /** Last heartbeat or connect, or null if never seen. */
  lastSeen: Date | null;
  agentVersion: string;
  os: string;
  arch: string;
  enrolledAt: Date;
  /** When the current link came up (online machines only). */
  connectedAt: Date | null;
  disabled: boolean;
  summary: PresenceSummary | null;
  /** `ssh-ed25519 AAAA...`: the machine's SSH host key (its identity key), for known_hosts. */
  sshHostKey: string;
  /** What the calling key may do on this machine (`terminal`, `files:read`, ...). */
  caps: string[];
}

export interface Page<T> {
  items: T[];
  /** Pass to the next list() call; null on the last page. */
  nextCursor: string | null;
}

export interface ListMachinesOptions {
  presence?: Presence;
  limit?: number;
  cursor?: string;
}

const date = (ms: number) => (ms ? new Date(ms) : null);

export function toMachine(m: cmdop.v1.Machine): Machine {
  return {
    id: m.id,
    hostname: m.hostname,
    name: m.name,
    labels: { ...m.labels },
    presence: m.presence === cmdop.v1.Presence.ONLINE ? 'online' : 'offline',
    lastSeen: date(m.lastSeenMs),
    agentVersion: m.agentVersion,
    os: m.os,
    arch: m.arch,
    enrolledAt: new Date(m.enrolledMs),
    connectedAt: date(m.connectedMs),
    disabled: m.disabled,
    sshHostKey: m.sshHostKey ?? '',
    caps: m.caps ?? [],
    summary: m.summary ? { load1: m.summary.load1 ?? 0, memUsed: m.summary.memUsed ?? 0, memTotal: m.summary.memTotal ?? 0, diskUsed: m.summary.diskUsed ?? 0, diskTotal: m.summary.diskTotal ?? 0 } : null,
  };
}

export class Machines {
  constructor(private readonly caller: Caller) {}

  /**
   * One page of machines.
   * @example
   * const page = await client.machines.list({ presence: 'online' });
   * for (const m of page.items) console.log(m.hostname, m.presence);
   */
  async list(o: ListMachinesOptions = {}): Promise<Page<Machine>> {
    const req = cmdop.v1.ListMachinesRequest.encode({
      presence: o.presence === 'online' ? cmdop.v1.Presence.ONLINE : o.presence === 'offline' ? cmdop.v1.Presence.OFFLINE : 0,
      limit: o.limit ?? 0,
      cursor: o.cursor ?? '',
    }).finish();
    const res = cmdop.v1.ListMachinesResponse.decode(await this.caller.unary('', 'machines', 'list', req));
    return { items: res.machines.map(toMachine), nextCursor: res.nextCursor || null };
  }

  /** Every machine, following cursors page by page. */
  async *iter(o: Omit<ListMachinesOptions, 'cursor'> = {}): AsyncGenerator<Machine> {
    for await (const page of this.pages(o)) yield* page;
  }

  /** Every page of machines, following cursors. */
  async *pages(o: Omit<ListMachinesOptions, 'cursor'> = {}): AsyncGenerator<Machine[]> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...o, ...(cursor ? { cursor } : {}) });
      yield page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** Renames a machine and/or replaces its labels. */
  async update(machine: string, o: { name?: string; labels?: Record<string, string> }): Promise<Machine> {
    const req = cmdop.v1.UpdateMachineRequest.encode({ machine, name: o.name ?? '', labels: o.labels ?? {}, setLabels: o.labels !== undefined }).finish();
    return toMachine(cmdop.v1.Machine.decode(await this.caller.unary('', 'machines', 'update', req)));
  }

  /** Disables a machine: the relay closes its link and refuses it until enabled again. */
  async disable(machine: string): Promise<Machine> {
    return toMachine(cmdop.v1.Machine.decode(await this.caller.unary('', 'machines', 'disable', cmdop.v1.SetDisabledRequest.encode({ machine, disabled: true }).finish())));
  }

  async enable(machine: string): Promise<Machine> {
    return toMachine(cmdop.v1.Machine.decode(await this.caller.unary('', 'machines', 'disable', cmdop.v1.SetDisabledRequest.encode({ machine, disabled: false }).finish())));
  }

  /** The machine's system information, from its agent (cached there for a few seconds). */
  async info(machine: string): Promise<cmdop.v1.ISystemInfo> {
    return plain(cmdop.v1.SystemInfo.decode(await this.caller.unary(machine, 'system', 'info', cmdop.v1.Empty.encode({}).finish())));
  }

  /**
   * AI spend recorded by the machine's agent, grouped by day, model or session.
   * @example
   * const { total, groups } = await client.machines.spend('web-1', { groupBy: 'model', since: new Date('2026-11-01') });
   */
  async spend(machine: string, o: { since?: Date; until?: Date; groupBy?: 'day' | 'model' | 'session' } = {}): Promise<cmdop.v1.ISpendResponse> {
    const req = cmdop.v1.SpendRequest.encode({ sinceMs: o.since?.getTime() ?? 0, untilMs: o.until?.getTime() ?? 0, groupBy: o.groupBy ?? 'day' }).finish();
    return plain(cmdop.v1.SpendResponse.decode(await this.caller.unary(machine, 'system', 'spend', req)));
  }

  /** A machine by id or hostname. Throws NotFoundError, or ConflictError if a hostname is ambiguous. */
  async get(machine: string): Promise<Machine> {
    const req = cmdop.v1.GetMachineRequest.encode({ machine }).finish();
    return toMachine(cmdop.v1.Machine.decode(await this.caller.unary('', 'machines', 'get', req)));
  }

  /**
   * Asks the machine's AI agent; the answer streams back as frames.
   * @example
   * const text = await client.machines.ask('web-1', 'why is the disk full?', { pin: '482913' }).collect();
   */
  ask(machine: string, prompt: string, o: AskOptions = {}): AskStream {
    return new AskStream(() => this.caller.open({ target: machine, service: 'ai', method: 'ask', request: askRequest(prompt, o), end: false }), o);
  }

  /** The conversation of an AI session (needs the PIN to have been given in an ask from this client). */
  async messages(machine: string, sessionId = 'default'): Promise<AiMessage[]> {
    const res = cmdop.v1.AiMessages.decode(await this.caller.unary(machine, 'ai', 'messages', cmdop.v1.AiSessionRef.encode({ sessionId }).finish()));
    return res.messages.map((m) => ({ role: m.role as AiMessage['role'], content: m.content, time: new Date(Number(m.timeMs)), ...(m.toolName ? { toolName: m.toolName } : {}) }));
  }

  async clearMessages(machine: string, sessionId = 'default'): Promise<void> {
    await this.caller.unary(machine, 'ai', 'clear_messages', cmdop.v1.AiSessionRef.encode({ sessionId }).finish());
  }

  /** The AI session the machine used last ('' if none). */
  async activeSession(machine: string): Promise<string> {
    return cmdop.v1.AiSessionRef.decode(await this.caller.unary(machine, 'ai', 'active_session', cmdop.v1.Empty.encode({}).finish())).sessionId;
  }
}

export interface AiMessage {
  role: 'user' | 'assistant' | 'tool';
  content: string;
  time: Date;
  toolName?: string;
}
