/**
 * Our typed errors as gRPC statuses, so the official SDK's mapGrpcError() raises its own typed
 * errors (PermissionError, NotFoundError, TimeoutError, ...) with our one-line message. The stable
 * code and detail travel as metadata (`cmdop-code`, `cmdop-detail`).
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { asCmdopError, type ErrorCode } from '../../errors.js';

const STATUS: Record<ErrorCode, status> = {
  auth: status.UNAUTHENTICATED,
  permission: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
  conflict: status.ALREADY_EXISTS,
  validation: status.INVALID_ARGUMENT,
  rate_limit: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  connection: status.UNAVAILABLE,
  timeout: status.DEADLINE_EXCEEDED,
  // Not RESOURCE_EXHAUSTED: the SDK turns that into RateLimitError and drops our message.
  too_large: status.FAILED_PRECONDITION,
  internal: status.INTERNAL,
  protocol: status.INTERNAL,
  cancelled: status.CANCELLED,
};

export function toServiceError(err: unknown, where: string): Partial<ServiceError> {
  const e = asCmdopError(err, where);
  const metadata = new Metadata();
  metadata.set('cmdop-code', e.code);
  if (e.detail) metadata.set('cmdop-detail', e.detail);
  return { code: STATUS[e.code] ?? status.INTERNAL, details: e.message, metadata };
}

export function unimplemented(method: string, why: string): Partial<ServiceError> {
  return { code: status.UNIMPLEMENTED, details: `cmdop-agent does not serve ${method}: ${why}` };
}
