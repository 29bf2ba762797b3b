// Ending a gRPC server stream with a typed error's status (shared by the volume server's services).
import type * as grpc from "@grpc/grpc-js";
import { grpcStatusOf } from "../common/errors.js";

/** Ends a server stream with the error's status. */
export function failStream(call: grpc.ServerWritableStream<unknown, unknown>, err: unknown): void {
  const { code, details } = grpcStatusOf(err);
  call.emit("error", Object.assign(new Error(details), { code, details }));
}
