// The Raft runtime: re-exports only.
export * from "./errors.js";
export { LogOncePer, remoteHost } from "./door.js";
export { coreLimits, runtimeLimits, timingDefaults, type RuntimeLimits } from "./limits.js";
export { silentLogger, type RuntimeLogger } from "./logger.js";
export { decodeMessage, encodeMessage, encodeBatch, messageBytes } from "./message-codec.js";
export {
  realClock,
  type RaftStore,
  type RaftTransport,
  type RuntimeClock,
  type TimerHandle,
  type TransportCounters,
  type TransportFactory,
  type TransportHandlers,
} from "./ports.js";
export {
  RaftRuntime,
  type ConfChangeResult,
  type CoreOptions,
  type MemberStatus,
  type OpOptions,
  type RaftRuntimeEvents,
  type RaftRuntimeOptions,
  type RuntimeStatus,
  type StateMachine,
} from "./runtime.js";
export { RaftStorage, type StorageStats } from "./storage.js";
export { GrpcTransport, type TransportStats } from "./transport.js";
export { decodeBatchWire, encodeBatchWire } from "./wire-codec.js";
