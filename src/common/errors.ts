// Typed errors with stable codes. Code branches on `instanceof WeedError` and `err.code`,
// never on message text. The one table mapping codes to HTTP and gRPC status is below.
import { status as GrpcStatus } from "@grpc/grpc-js";

export const ErrorCode = {
  BAD_REQUEST: "WEED_ERR_BAD_REQUEST",
  BAD_FID: "WEED_ERR_BAD_FID",
  BAD_PARAM: "WEED_ERR_BAD_PARAM",
  COOKIE_MISMATCH: "WEED_ERR_COOKIE_MISMATCH",
  NOT_FOUND: "WEED_ERR_NOT_FOUND",
  VOLUME_NOT_FOUND: "WEED_ERR_VOLUME_NOT_FOUND",
  VOLUME_EXISTS: "WEED_ERR_VOLUME_EXISTS",
  VOLUME_READ_ONLY: "WEED_ERR_VOLUME_READ_ONLY",
  VOLUME_FULL: "WEED_ERR_VOLUME_FULL",
  TOO_LARGE: "WEED_ERR_TOO_LARGE",
  CORRUPT: "WEED_ERR_CORRUPT",
  NO_WRITABLE_VOLUME: "WEED_ERR_NO_WRITABLE_VOLUME",
  NO_FREE_SLOT: "WEED_ERR_NO_FREE_SLOT",
  NOT_LEADER: "WEED_ERR_NOT_LEADER",
  UNAVAILABLE: "WEED_ERR_UNAVAILABLE",
  METHOD_NOT_ALLOWED: "WEED_ERR_METHOD_NOT_ALLOWED",
  RANGE_NOT_SATISFIABLE: "WEED_ERR_RANGE_NOT_SATISFIABLE",
  TIMEOUT: "WEED_ERR_TIMEOUT",
  CONFLICT: "WEED_ERR_CONFLICT",
  CLOSED: "WEED_ERR_CLOSED",
  UNAUTHORIZED: "WEED_ERR_UNAUTHORIZED",
  CLIENT_GONE: "WEED_ERR_CLIENT_GONE",
  IO: "WEED_ERR_IO",
  INTERNAL: "WEED_ERR_INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface StatusRow {
  http: number;
  grpc: GrpcStatus;
}

/** The one table: error code -> HTTP status and gRPC status. */
const STATUS: Record<ErrorCode, StatusRow> = {
  [ErrorCode.BAD_REQUEST]: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  [ErrorCode.BAD_FID]: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  // SeaweedFS answers a bad replication/ttl/count with 406 Not Acceptable.
  [ErrorCode.BAD_PARAM]: { http: 406, grpc: GrpcStatus.INVALID_ARGUMENT },
  // A wrong cookie is answered as "not found" so that fids cannot be guessed (SeaweedFS does the same).
  [ErrorCode.COOKIE_MISMATCH]: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  [ErrorCode.NOT_FOUND]: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  [ErrorCode.VOLUME_NOT_FOUND]: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  [ErrorCode.VOLUME_EXISTS]: { http: 409, grpc: GrpcStatus.ALREADY_EXISTS },
  [ErrorCode.VOLUME_READ_ONLY]: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  [ErrorCode.VOLUME_FULL]: { http: 507, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  [ErrorCode.TOO_LARGE]: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  [ErrorCode.CORRUPT]: { http: 500, grpc: GrpcStatus.DATA_LOSS },
  [ErrorCode.NO_WRITABLE_VOLUME]: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  [ErrorCode.NO_FREE_SLOT]: { http: 406, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  [ErrorCode.NOT_LEADER]: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  [ErrorCode.UNAVAILABLE]: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  [ErrorCode.METHOD_NOT_ALLOWED]: { http: 405, grpc: GrpcStatus.UNIMPLEMENTED },
  [ErrorCode.RANGE_NOT_SATISFIABLE]: { http: 416, grpc: GrpcStatus.OUT_OF_RANGE },
  [ErrorCode.TIMEOUT]: { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED },
  // The request is valid but the cluster's present state refuses it (a membership change that
  // would lose quorum, a directory another process holds).
  [ErrorCode.CONFLICT]: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  [ErrorCode.CLOSED]: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  // No credential, or one that does not hold (a JWT missing, expired, for another fid, forged).
  [ErrorCode.UNAUTHORIZED]: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  // The client went away before its answer (nginx's 499); only logs and metrics ever see it.
  [ErrorCode.CLIENT_GONE]: { http: 499, grpc: GrpcStatus.CANCELLED },
  [ErrorCode.IO]: { http: 500, grpc: GrpcStatus.INTERNAL },
  [ErrorCode.INTERNAL]: { http: 500, grpc: GrpcStatus.INTERNAL },
};

export interface WeedErrorOptions extends ErrorOptions {
  /** Seconds a client should wait before retrying (sent as Retry-After with 503). */
  retryAfterSec?: number;
}

export class WeedError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSec: number | undefined;
  constructor(code: ErrorCode, message: string, options: WeedErrorOptions = {}) {
    super(message, options);
    this.name = "WeedError";
    this.code = code;
    this.retryAfterSec = options.retryAfterSec;
  }
  get httpStatus(): number {
    return STATUS[this.code].http;
  }
  get grpcStatus(): GrpcStatus {
    return STATUS[this.code].grpc;
  }
}

export function httpStatusOf(err: unknown): number {
  return err instanceof WeedError ? err.httpStatus : 500;
}

export function grpcStatusOf(err: unknown): { code: GrpcStatus; details: string } {
  if (err instanceof WeedError) return { code: err.grpcStatus, details: err.message };
  return { code: GrpcStatus.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/**
 * A programmer error (a broken invariant), never an operating error: nothing catches it to carry
 * on, and assertions stay on in production. One class for all of src/ (the Raft library's
 * RaftAssertionError is this class), so a supervisor or the simulator tells a bug from a failure
 * with one `instanceof`.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(`assertion failed: ${message}`);
}

export function unreachable(x: never): never {
  throw new AssertionError(`unreachable: ${JSON.stringify(x)}`);
}
