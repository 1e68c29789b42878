/** The agent's audit records as an upload (audit.v1): signed lines after the relay's head for this machine. */
import { cmdop } from '../../protocol/gen/cmdop.js';
import type { UploadSource } from '../link/uploader.js';
import type { AuditJournal } from './journal.js';

export function auditUpload(journal: AuditJournal): UploadSource {
  return {
    capability: 'audit.v1',
    what: 'audit',
    head: async (relay) => Number(cmdop.v1.AuditHeadResponse.decode(await relay.unary('audit', 'head', cmdop.v1.Empty.encode({}).finish())).seq),
    pending: (head) => journal.pending(head),
    send: async (relay, lines) => Number(cmdop.v1.AuditHeadResponse.decode(await relay.unary('audit', 'append', cmdop.v1.AppendAuditRequest.encode({ records: lines as string[] }).finish())).seq),
    ack: (head) => journal.ack(head),
    onRecord: (fn) => void journal.onRecord(fn),
  };
}
