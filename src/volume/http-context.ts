// What the HTTP handlers of a volume server share: the store, limits and hooks into the process
// (heartbeat state for /readyz and the status page). Built once by VolumeServer.start().
import type { Logger } from "../common/logger.js";
import type { FidTokens } from "../common/security/jwt.js";
import type { ResponseBatch } from "../common/response-batch.js";
import type { StoreApi } from "./storage/store-api.js";
import type { VolumeMetrics } from "./metrics.js";
import type { RemoteReads } from "./replication/remote-read.js";
import type { Replicator } from "./replication/replicator.js";

export interface HeartbeatView {
  readonly connected: boolean;
  readonly currentMaster: string | undefined;
  readonly masters: readonly string[];
}

export interface VolumeHttpContext {
  readonly store: StoreApi;
  readonly logger: Logger;
  readonly metrics: VolumeMetrics;
  /** -fileSizeLimitMB in bytes. */
  readonly fileSizeLimitBytes: number;
  /** -fsync: every write fsync'd before it is answered. */
  readonly fsync: boolean;
  readonly version: string;
  readonly dir: string;
  /** "ip:port" this server is known by (heartbeat id, status page). */
  readonly serverId: string;
  readonly publicUrl: string;
  /** Writes and deletes of replicated volumes reach every replica through it. */
  readonly replicator: Replicator;
  /** Reads of volumes not held here (-readMode). */
  readonly remoteReads: RemoteReads;
  /** Plain GET answers wait here for the end of the event-loop turn, to be written together. */
  readonly responses: ResponseBatch;
  /** [jwt.signing] (writes, deletes) and [jwt.signing.read] (reads) of security.toml: checked when set. */
  readonly fidTokens?: FidTokens | undefined;
  /** Wall-clock Unix seconds: the Last-Modified a replicated write gives every replica. */
  nowSec(): number;
  /** undefined when no master is configured (standalone). */
  heartbeat(): HeartbeatView | undefined;
  /** False once close() began: /healthz and /readyz answer 503. */
  running(): boolean;
}

/** The path and query string of a request URL, split without allocating a URL object. */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf("?");
  return q < 0 ? { path: url, query: "" } : { path: url.slice(0, q), query: url.slice(q + 1) };
}
