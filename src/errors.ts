/**
 * The CmdopError tree: one class per stable code. Codes cross the wire (see protocol/codes.ts);
 * callers branch on `code` or on the class, never on message text. Sub-codes (`detail`) are the
 * one documented union in error-details.ts.
 */
import type { ErrorDetail } from './error-details.js';

export type { ErrorDetail } from './error-details.js';

export type ErrorCode =
  | 'auth'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'validation'
  | 'rate_limit'
  | 'unavailable'
  | 'timeout'
  | 'too_large'
  | 'internal'
  | 'protocol'
  | 'connection'
  | 'cancelled';

export interface CmdopErrorOptions {
  cause?: unknown;
  /** Whether the same call may succeed if tried again later. */
  retryable?: boolean;
  retryAfterMs?: number;
  /** Machine-readable sub-code, e.g. `session_not_found` (see error-details.ts). */
  detail?: ErrorDetail | undefined;
}

/** Codes whose errors are retryable unless the sender says otherwise. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['rate_limit', 'unavailable', 'timeout', 'connection']);

export class CmdopError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly detail: ErrorDetail | undefined;

  constructor(code: ErrorCode, message: string, options: CmdopErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.retryAfterMs = options.retryAfterMs;
    this.detail = options.detail;
  }
}

/** Wrong, expired or revoked credentials. */
export class AuthError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('auth', message, options); }
}
/** Authenticated, but not allowed (an observer writing, a path outside the jail, a disabled machine). */
export class PermissionError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('permission', message, options); }
}
export class NotFoundError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('not_found', message, options); }
}
/** A terminal session id the agent does not know (detail `session_not_found`). */
export class SessionNotFoundError extends NotFoundError {
  constructor(message: string, options?: CmdopErrorOptions) {
    super(message, { detail: 'session_not_found', ...options });
  }
}
export class ConflictError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('conflict', message, options); }
}
export class ValidationError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('validation', message, options); }
}
export class RateLimitError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('rate_limit', message, options); }
}
/** The target exists but cannot be reached now (machine offline, agent restarting). */
export class UnavailableError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('unavailable', message, options); }
}
export class TimeoutError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('timeout', message, options); }
}
export class TooLargeError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('too_large', message, options); }
}
export class InternalError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('internal', message, options); }
}
/** The seeds' name for InternalError (a failure on the server side): the same class. */
export const ServerError = InternalError;
export type ServerError = InternalError;
/** The peer broke the wire protocol; the link that carried it is closed. */
export class ProtocolError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('protocol', message, options); }
}
/** The caller cancelled the call (an AbortSignal): not a timeout, and not retryable. */
export class CancelledError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('cancelled', message, { retryable: false, ...options }); }
}
/** Client side only: the link to the relay or local agent could not be made or was lost. */
export class ConnectionError extends CmdopError {
  constructor(message: string, options?: CmdopErrorOptions) { super('connection', message, options); }
}

// ---- file errors: a stable detail sub-code under a wire code; the message names the path ----

export class FileNotFoundError extends NotFoundError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'file_not_found', ...options }); }
}
export class PermissionDeniedError extends PermissionError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'permission_denied', ...options }); }
}
export class AlreadyExistsError extends ConflictError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'already_exists', ...options }); }
}
export class NotADirectoryError extends ValidationError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'not_a_directory', ...options }); }
}
export class IsADirectoryError extends ValidationError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'is_a_directory', ...options }); }
}
export class DirectoryNotEmptyError extends ConflictError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'directory_not_empty', ...options }); }
}
export class FileTooLargeError extends TooLargeError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'file_too_large', ...options }); }
}
/** The disk (or quota) is full. Not retryable until someone frees space. */
export class NoSpaceError extends UnavailableError {
  constructor(message: string, options?: CmdopErrorOptions) { super(message, { detail: 'no_space', retryable: false, ...options }); }
}

/** Classes picked by detail sub-code before falling back to the code's class. */
const BY_DETAIL: Record<string, new (message: string, options?: CmdopErrorOptions) => CmdopError> = {
  session_not_found: SessionNotFoundError,
  file_not_found: FileNotFoundError,
  permission_denied: PermissionDeniedError,
  already_exists: AlreadyExistsError,
  not_a_directory: NotADirectoryError,
  is_a_directory: IsADirectoryError,
  directory_not_empty: DirectoryNotEmptyError,
  file_too_large: FileTooLargeError,
  no_space: NoSpaceError,
};

const BY_CODE: Record<ErrorCode, new (message: string, options?: CmdopErrorOptions) => CmdopError> = {
  auth: AuthError,
  permission: PermissionError,
  not_found: NotFoundError,
  conflict: ConflictError,
  validation: ValidationError,
  rate_limit: RateLimitError,
  unavailable: UnavailableError,
  timeout: TimeoutError,
  too_large: TooLargeError,
  internal: InternalError,
  protocol: ProtocolError,
  connection: ConnectionError,
  cancelled: CancelledError,
};

/** Builds the error class for a code (used when an error arrives from the wire). */
export function errorFromCode(code: ErrorCode, message: string, options?: CmdopErrorOptions): CmdopError {
  const byDetail = options?.detail ? BY_DETAIL[options.detail as string] : undefined;
  if (byDetail) {
    const e = new byDetail(message, options);
    if (e.code === code) return e;
  }
  return new BY_CODE[code](message, options);
}

/**
 * Turns anything thrown into a CmdopError. Unknown exceptions become `internal` with a generic
 * message: their text may hold paths or secrets and is for the log, not the peer.
 */
export function asCmdopError(err: unknown, doing?: string): CmdopError {
  if (err instanceof CmdopError) return err;
  return new InternalError(doing ? `internal error while ${doing}` : 'internal error', { cause: err });
}
