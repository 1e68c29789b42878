/**
 * Pushes each agent its schedules. An online agent holds one `schedules.watch` stream; the relay
 * writes the whole set for that machine when the stream opens and again whenever it changes
 * (a schedule, a key, a fleet or a machine's labels changed), so what an agent runs is what the
 * relay says now, and a change made while it was offline wins as soon as it reconnects. A
 * trigger ("run now") goes down the same stream.
 */
import { randomUUID } from 'node:crypto';
import { cmdop } from '../../protocol/gen/cmdop.js';
import { frameMessage, MSG_EVENT } from '../../protocol/messages.js';
import type { Stream } from '../../protocol/stream.js';
import { scheduleToWire } from '../../control/schedules/wire.js';
import type { ScheduleRecord } from '../../control/schedules/spec.js';
import type { RelayState } from '../state.js';
import { machinesOf, schedulesFor } from './reach.js';

/** Sets are recomputed this often even with no change (keys expire by the clock). */
export const RESYNC_MS = 30_000;

interface Watcher { stream: Stream; digest: string }

export class SchedulePush {
  private readonly watchers = new Map<string, Watcher>();
  private queued = false;
  /** Machines whose sets to resend at the next turn; null = every watcher's. */
  private dirty: Set<string> | null = new Set();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly state: RelayState) {
    state.onChange((machines) => this.soon(machines));
    this.timer = setInterval(() => this.soon(), RESYNC_MS);
    this.timer.unref();
  }

  /** An agent's watch stream: it gets its set now and at every change, until it closes. */
  watch(machineId: string, stream: Stream): void {
    const old = this.watchers.get(machineId);
    const w: Watcher = { stream, digest: '' };
    this.watchers.set(machineId, w);
    stream.handle({
      onClose: () => {
        if (this.watchers.get(machineId) === w) this.watchers.delete(machineId);
      },
    });
    if (old && !old.stream.finished) old.stream.end();
    this.send(machineId, w);
  }

  /** Sends "run now" to each online target; returns who got it and who is offline. */
  trigger(s: ScheduleRecord): { sent: string[]; offline: string[] } {
    const sent: string[] = [];
    const offline: string[] = [];
    for (const m of machinesOf(this.state, s)) {
      const w = this.watchers.get(m.id);
      if (!w || w.stream.finished) {
        offline.push(m.id);
        continue;
      }
      this.send(m.id, w); // the agent must know the schedule before it is told to run it
      w.stream.write(frameMessage(MSG_EVENT, cmdop.v1.ScheduleEvent.encode({ trigger: s.id, triggerId: randomUUID() }).finish()));
      sent.push(m.id);
    }
    return { sent, offline };
  }

  get watching(): number {
    return this.watchers.size;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private soon(machines?: readonly string[]): void {
    if (!machines) this.dirty = null;
    else if (this.dirty) for (const m of machines) this.dirty.add(m);
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      const only = this.dirty;
      this.queued = false;
      this.dirty = new Set();
      if (!only) for (const [id, w] of this.watchers) this.send(id, w);
      else for (const id of only) {
        const w = this.watchers.get(id);
        if (w) this.send(id, w);
      }
    });
  }

  private send(machineId: string, w: Watcher): void {
    if (w.stream.finished) return;
    const m = this.state.machine(machineId);
    const set = m ? schedulesFor(this.state, m) : [];
    const schedules = set.map(({ schedule, caps }) => {
      const key = schedule.keyId ? this.state.key(schedule.keyId) : undefined;
      return { schedule: scheduleToWire(schedule), caps, keyExpiresMs: key?.expiresMs ?? 0 };
    });
    const body = cmdop.v1.ScheduleEvent.encode({ set: true, schedules }).finish();
    const digest = Buffer.from(body).toString('base64');
    if (digest === w.digest) return;
    w.digest = digest;
    w.stream.write(frameMessage(MSG_EVENT, body));
  }
}
