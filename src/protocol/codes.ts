import { cmdop } from './gen/cmdop.js';
import { errorFromCode, asCmdopError, type CmdopError, type ErrorCode, type ErrorDetail } from '../errors.js';

const WireCode = cmdop.v1.ErrorCode;

const TO_WIRE: Record<ErrorCode, cmdop.v1.ErrorCode> = {
  auth: WireCode.AUTH,
  permission: WireCode.PERMISSION,
  not_found: WireCode.NOT_FOUND,
  conflict: WireCode.CONFLICT,
  validation: WireCode.VALIDATION,
  rate_limit: WireCode.RATE_LIMIT,
  unavailable: WireCode.UNAVAILABLE,
  timeout: WireCode.TIMEOUT,
  too_large: WireCode.TOO_LARGE,
  internal: WireCode.INTERNAL,
  protocol: WireCode.PROTOCOL,
  cancelled: WireCode.CANCELLED,
  // A connection error is local to one side; the peer sees it as "unavailable".
  connection: WireCode.UNAVAILABLE,
};

const FROM_WIRE = new Map<number, ErrorCode>(
  (Object.entries(TO_WIRE) as [ErrorCode, number][]).filter(([c]) => c !== 'connection').map(([c, w]) => [w, c]),
);

/** The wire form of an error, for a stream or link Error frame. */
export function toWireError(err: unknown): cmdop.v1.IError {
  const e = asCmdopError(err);
  return {
    code: TO_WIRE[e.code],
    message: e.message,
    retryable: e.retryable,
    retryAfterMs: e.retryAfterMs ?? 0,
    detail: e.detail ?? '',
  };
}

/** The typed error for a wire Error frame. Unknown codes become `internal`. */
export function fromWireError(w: cmdop.v1.IError): CmdopError {
  const code = FROM_WIRE.get(w.code ?? 0) ?? 'internal';
  return errorFromCode(code, w.message || code, {
    retryable: w.retryable ?? undefined,
    retryAfterMs: w.retryAfterMs || undefined,
    detail: (w.detail || undefined) as ErrorDetail | undefined,
  });
}
