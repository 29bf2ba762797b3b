// Replicated writes and deletes, as SeaweedFS's weed/topology/store_replicate.go does them, with
// one change: a replica that fails after this server wrote is not a silent divergence but a 5xx
// that says the outcome is unknown (ReplicaOutcomeUnknown), logged and counted.
//
//   plan      before anything is written: the other locations of the volume from the master
//             (cached); a volume held here whose placement asks for N copies but the master
//             lists fewer than N locations is refused (ReplicaCountRefused), nothing written.
//   write     the handler writes locally first (when it holds the volume), then every other
//             location gets the same needle in parallel (`?type=replicate`), each bounded in
//             time; answered only once every one confirmed.
//   delete    the same, with `DELETE ...?type=replicate`.
// A request that is itself `type=replicate` never comes here: it is written locally only.
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { copyCount } from "../../common/replica-placement.js";
import { bearer } from "../../common/security/jwt.js";
import type { StoreApi } from "../storage/store-api.js";
import { replicaRequestTimeoutMs, type PeerAnswer, type ReplicaClient, type VolumeLocation } from "./replica-client.js";
import type { ReplicaLocations } from "./replica-locations.js";

/** Too few live locations for the placement: refused before anything was written. */
export class ReplicaCountRefused extends WeedError {
  constructor(volumeId: number, found: number, copies: number) {
    super(
      ErrorCode.UNAVAILABLE,
      `replicating operations [${found}] is less than volume ${volumeId} replication copy count [${copies}]`,
    );
    this.name = "ReplicaCountRefused";
  }
}

/** A replica failed after the write went somewhere: the blob may exist on some replicas and not others. */
export class ReplicaOutcomeUnknown extends WeedError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(ErrorCode.UNAVAILABLE, message, options);
    this.name = "ReplicaOutcomeUnknown";
  }
}

/** The needle as it was stored here (or as it is to be stored), to send to the other replicas. */
export interface ReplicaNeedle {
  data: Buffer;
  name: string;
  mime: string | undefined;
  pairs: Record<string, string> | undefined;
  /** Unix seconds: the same on every replica, so Last-Modified is too. */
  lastModified: number;
  /** As the client sent it ("" for none). */
  ttlText: string;
  gzipped: boolean;
  fsync: boolean;
  contentMd5: string | undefined;
  /** The ETag this server stored (every replica must store the same); undefined when not held here. */
  etagExpected: string | undefined;
  /** The client's write token ([jwt.signing]): each replica checks it as this server did. */
  auth?: string | undefined;
}

export type ReplicaOp = "write" | "delete";

export interface ReplicatorEvents {
  /** A replica failed after the request reached some copy (outcome unknown). */
  failed(op: ReplicaOp): void;
  /** Refused before anything was written: too few locations. */
  refused(op: ReplicaOp): void;
}

export interface ReplicatorOptions {
  store: StoreApi;
  client: ReplicaClient;
  locations: ReplicaLocations;
  /** "ip:port" this server is listed under. */
  self: () => string;
  /**
   * False for a server run without a master (standalone): it has no peers to know of, so it
   * writes its volumes locally whatever their placement says, as it did before replication.
   */
  clustered: boolean;
  logger: Logger;
  events: ReplicatorEvents;
}

/** One replica's outcome. */
type Sent = { server: string; answer: PeerAnswer } | { server: string; error: string };

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.name}: ${err.message}${cause}`;
}

/**
 * Sorts replica outcomes: `refusal` says why an answer does not confirm (undefined when it does).
 * Every replica is waited for, so the error names all that failed.
 */
function settle(
  sent: Sent[],
  refusal: (a: PeerAnswer) => string | undefined,
): { answers: PeerAnswer[]; failures: string[] } {
  const answers: PeerAnswer[] = [];
  const failures: string[] = [];
  for (const s of sent) {
    if ("error" in s) {
      failures.push(`[${s.server}]: ${s.error}`);
      continue;
    }
    const why = refusal(s.answer);
    if (why === undefined) answers.push(s.answer);
    else failures.push(`[${s.server}]: ${why}`);
  }
  return { answers, failures };
}

/** The Seaweed-* headers, Content-Type, -Disposition, -Encoding and -MD5 that make a replica store the same needle. */
function replicaHeaders(n: ReplicaNeedle): Record<string, string> {
  const h: Record<string, string> = {};
  if (n.mime !== undefined) h["content-type"] = n.mime;
  if (n.name !== "") h["content-disposition"] = `attachment; filename*=UTF-8''${encodeURIComponent(n.name)}`;
  if (n.gzipped) h["content-encoding"] = "gzip";
  if (n.contentMd5 !== undefined && n.contentMd5 !== "") h["content-md5"] = n.contentMd5;
  if (n.pairs !== undefined) for (const [k, v] of Object.entries(n.pairs)) h[`seaweed-${k}`] = v;
  if (n.auth !== undefined) h["authorization"] = bearer(n.auth);
  return h;
}

function replicaQuery(n: ReplicaNeedle): string {
  const q = new URLSearchParams({ type: "replicate", ts: String(n.lastModified) });
  if (n.ttlText !== "") q.set("ttl", n.ttlText);
  if (n.fsync) q.set("fsync", "true");
  return q.toString();
}

export class Replicator {
  readonly #o: ReplicatorOptions;
  readonly #log: Logger;

  constructor(o: ReplicatorOptions) {
    this.#o = o;
    this.#log = o.logger.child({ module: "replication" });
  }

  /**
   * The other locations a write or delete of `volumeId` must reach: [] for a volume held here with
   * one copy. Throws ReplicaCountRefused (too few locations, lookup dropped), UNAVAILABLE (no
   * answer from the master) or VOLUME_NOT_FOUND (not held here and nowhere else).
   */
  /**
   * Whether plan(volumeId) resolves with [] at once: the volume is held here, and has one copy or
   * this server is not in a cluster. Lets the small-write path skip the promise.
   */
  writesHereOnly(volumeId: number): boolean {
    const placement = this.#o.store.replicaPlacement(volumeId);
    return placement !== undefined && (copyCount(placement) === 1 || !this.#o.clustered);
  }

  async plan(volumeId: number, op: ReplicaOp): Promise<VolumeLocation[]> {
    const info = this.#o.store.volumeInfo(volumeId);
    const copies = info === undefined ? 0 : copyCount(info.replicaPlacement);
    if (copies === 1 || (info !== undefined && !this.#o.clustered)) return [];
    const all = await this.#o.locations.get(volumeId);
    const self = this.#o.self();
    const others = all.filter((l) => l.url !== self);
    if (info !== undefined && all.length < copies) {
      this.#o.locations.drop(volumeId);
      this.#o.events.refused(op);
      this.#log.warn({ volumeId, op, locations: all.map((l) => l.url), copies }, "replicated request refused");
      throw new ReplicaCountRefused(volumeId, all.length, copies);
    }
    if (info === undefined && others.length === 0) {
      throw new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${volumeId} not found on ${self} nor elsewhere`);
    }
    return others;
  }

  /**
   * Sends the needle at `path` (as the client addressed it, "/3,01637037d6") to every location in
   * `to`, in parallel; resolves with their answers once all confirmed (201 or 204, with the ETag
   * stored here when it is held here). Otherwise throws ReplicaOutcomeUnknown naming each failed
   * replica, after dropping the cached locations.
   */
  async write(path: string, volumeId: number, to: readonly VolumeLocation[], n: ReplicaNeedle): Promise<PeerAnswer[]> {
    const request = { method: "PUT" as const, path: `${path}?${replicaQuery(n)}`, headers: replicaHeaders(n) };
    const timeoutMs = replicaRequestTimeoutMs(n.data.length);
    const sent = await Promise.all(
      to.map((l) =>
        this.#o.client.exchange({ ...request, server: l.url, body: n.data }, timeoutMs).then(
          (answer): Sent => ({ server: l.url, answer }),
          (err: unknown): Sent => ({ server: l.url, error: describe(err) }),
        ),
      ),
    );
    const quoted = n.etagExpected === undefined ? undefined : `"${n.etagExpected}"`;
    const { answers, failures } = settle(sent, (a) => {
      if (a.status !== 201 && a.status !== 204) return `answered ${a.status}: ${a.text.slice(0, 300)}`;
      const etag = a.headers["etag"];
      return quoted === undefined || etag === quoted ? undefined : `stored ETag ${String(etag)}, not ${quoted}`;
    });
    if (failures.length === 0) return answers;
    throw this.#unknown("write", path, volumeId, failures);
  }

  /**
   * Sends the delete to every location in `to`, in parallel. Resolves with each answer once all
   * confirmed (202, 200, or 404: absent there already); otherwise throws ReplicaOutcomeUnknown.
   */
  async delete(
    path: string,
    volumeId: number,
    to: readonly VolumeLocation[],
    fsync: boolean,
    auth?: string,
  ): Promise<PeerAnswer[]> {
    const target = `${path}?type=replicate${fsync ? "&fsync=true" : ""}`;
    const timeoutMs = replicaRequestTimeoutMs(0);
    const headers = auth === undefined ? {} : { authorization: bearer(auth) };
    const sent = await Promise.all(
      to.map((l) =>
        this.#o.client.exchange({ method: "DELETE", path: target, server: l.url, headers }, timeoutMs).then(
          (answer): Sent => ({ server: l.url, answer }),
          (err: unknown): Sent => ({ server: l.url, error: describe(err) }),
        ),
      ),
    );
    const { answers, failures } = settle(sent, (a) =>
      a.status === 202 || a.status === 200 || a.status === 404
        ? undefined
        : `answered ${a.status}: ${a.text.slice(0, 300)}`,
    );
    if (failures.length === 0) return answers;
    throw this.#unknown("delete", path, volumeId, failures);
  }

  #unknown(op: ReplicaOp, path: string, volumeId: number, failures: string[]): ReplicaOutcomeUnknown {
    const fid = path.slice(1);
    this.#o.locations.drop(volumeId);
    this.#o.events.failed(op);
    // The replicas may differ now: the volume is reported as needing a check (heartbeat), and
    // volume.check.disk or the master's repair makes them converge and clears the flag.
    this.#o.store.markNeedsCheck(volumeId);
    this.#log.warn({ volumeId, fid, op, failures }, "replica failed: outcome unknown, the volume needs a check");
    const held = this.#o.store.hasVolume(volumeId) ? `done on ${this.#o.self()}, ` : "";
    return new ReplicaOutcomeUnknown(
      `failed to ${op} to replicas for volume ${volumeId}: outcome unknown, the ${op} of ${fid} may have taken ` +
        `effect on some replicas and not others (${held}failed on ${failures.join("; ")})`,
    );
  }
}
