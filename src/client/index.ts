/** The cmdop client SDK. */
export { Client, type LocalOptions } from './client.js';
export type { ClientOptions } from './options.js';
export type { Machine, Page, Presence, PresenceSummary, ListMachinesOptions } from './machines.js';
export type { ApiKey, KeyGrant, IssueKeyOptions } from './keys.js';
export type { Fleet, FleetMember } from './fleets.js';
export type { Schedule, ScheduleRun, ScheduleOptions } from './schedules.js';
export type { FanoutResult, FanoutStatus, FanoutOptions } from './fanout.js';
export type { AuditEvent, AuditQuery, AuditVerdict } from './audit.js';
export type { Capability, FleetRole } from '../control/capabilities.js';
export {
  CmdopError,
  AuthError,
  PermissionError,
  NotFoundError,
  ConflictError,
  ValidationError,
  RateLimitError,
  UnavailableError,
  TimeoutError,
  TooLargeError,
  InternalError,
  ServerError,
  ProtocolError,
  ConnectionError,
  SessionNotFoundError,
  FileNotFoundError,
  PermissionDeniedError,
  AlreadyExistsError,
  NotADirectoryError,
  IsADirectoryError,
  DirectoryNotEmptyError,
  FileTooLargeError,
  NoSpaceError,
  type ErrorCode,
} from '../errors.js';
export type { Stream } from '../protocol/stream.js';
export { Terminal } from './terminal.js';
export { Recordings, type RecordingInfo } from './recordings.js';
export type { CastHeader, CastEvent, CastCode } from '../protocol/asciicast.js';
export { TerminalStream, type TerminalStreamOptions, type Snapshot } from './terminal-stream.js';
export type { TerminalSessionInfo, AttachedClient, ExecuteOptions, ExecuteResult, CreateSessionOptions } from './terminal-types.js';
export { Tunnels, Tunnel, type TunnelOptions, type TunnelConnection } from './tunnels.js';
export type { ConnectionInfo, ReconnectOptions } from './connection.js';
export type { RetryOptions } from './retry.js';
export { Files } from './files.js';
export { FileWatch } from './files-watch.js';
export type { FileEntry, FileKind, ListOptions, ListPage, ReadOptions, WriteOptions, WriteResult, SearchOptions, SearchMatch, WatchEvent } from './files-types.js';
export type { UploadOptions, DownloadOptions, Progress } from './files-transfer.js';
export { AskStream, AgentStreamError, type AskFrame, type AskOptions, type AskResult, type AskUsage, type AgentType } from './ask.js';
export type { AiMessage } from './machines.js';
export { Agent } from './agent.js';
