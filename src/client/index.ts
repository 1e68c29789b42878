/** The cmdop client SDK. */
export { Client, type LocalOptions } from './client.js';
export type { ClientOptions } from './options.js';
export type { Machine, Page, Presence, PresenceSummary, ListMachinesOptions } from './machines.js';
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
  ProtocolError,
  ConnectionError,
  type ErrorCode,
} from '../errors.js';
export type { Stream } from '../protocol/stream.js';
