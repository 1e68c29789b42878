/**
 * The schedules' side of the relay link: on every link up, hold the clock, open
 * `schedules.watch`, and hand each pushed set to the scheduler (it replaces ours and wins) and
 * each "run now" to it; run records go up through the shared exactly-once uploader.
 */
import { cmdop } from '../../protocol/gen/cmdop.js';
import { MessageReader, MSG_EVENT } from '../../protocol/messages.js';
import { runToWire, scheduleFromWire } from '../../control/schedules/wire.js';
import { asCmdopError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RelayLink } from '../link/relay-link.js';
import type { UploadSource } from '../link/uploader.js';
import type { HeldSchedule } from './files.js';
import type { RunJournal } from './journal.js';
import type { Scheduler } from './scheduler.js';

export const SCHEDULES_CAPABILITY = 'schedules.v1';

export function heldFromWire(a: cmdop.v1.IAgentSchedule): HeldSchedule {
  return { schedule: scheduleFromWire(a.schedule ?? {}), caps: [...(a.caps ?? [])], keyExpiresMs: Number(a.keyExpiresMs ?? 0) };
}

/** Opens the watch on each link up; returns a stop function. */
export function watchSchedules(relay: RelayLink, scheduler: Scheduler, log: Logger): () => void {
  const onOnline = () => {
    if (!relay.speaks(SCHEDULES_CAPABILITY)) return;
    scheduler.hold();
    let stream;
    try {
      stream = relay.openStream('schedules', 'watch', cmdop.v1.Empty.encode({}).finish());
    } catch {
      return; // the link dropped already; the next one opens it again
    }
    const reader = new MessageReader((type, body) => {
      if (type !== MSG_EVENT) return;
      const ev = cmdop.v1.ScheduleEvent.decode(body);
      if (ev.set) {
        try {
          scheduler.replace(ev.schedules.map(heldFromWire));
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'a pushed schedule set was not usable; keeping the last one');
        }
      }
      if (ev.trigger && !scheduler.trigger(ev.trigger)) log.warn({ schedule: ev.trigger }, 'run-now for a schedule this host does not hold');
    });
    stream.handle({
      onData: (c) => {
        try {
          reader.push(c);
        } catch (err) {
          stream.abort(asCmdopError(err, "reading the schedule watch"));
        }
      },
    });
  };
  relay.on('online', onOnline);
  return () => relay.off('online', onOnline);
}

/** Run records, uploaded exactly once. */
export function runsUpload(journal: RunJournal): UploadSource {
  return {
    capability: SCHEDULES_CAPABILITY,
    what: 'schedule runs',
    head: async (relay) => Number(cmdop.v1.RunsHeadResponse.decode(await relay.unary('schedules', 'head', cmdop.v1.Empty.encode({}).finish())).seq),
    pending: (head) => journal.pending(head),
    send: async (relay, runs) => Number(cmdop.v1.RunsHeadResponse.decode(await relay.unary('schedules', 'report', cmdop.v1.ReportRunsRequest.encode({ runs: (runs as Parameters<typeof runToWire>[0][]).map(runToWire) }).finish())).seq),
    ack: (head) => journal.ack(head),
    onRecord: (fn) => journal.onRecord(fn),
  };
}
