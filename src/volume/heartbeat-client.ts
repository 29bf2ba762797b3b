// The volume server's side of Seaweed.SendHeartbeat: one bidi stream to the master leader.
//
//   connect    -> a full Heartbeat (identity, capacity, every volume, max_file_key)
//   store change -> a delta at once (new_volumes / deleted_volumes)
//   every intervalMs -> a full beat again (sizes and counts move; the master diffs the list)
//   a volume turned full, crowded, read-only or writable -> a full beat at once (volume-state-watch.ts)
//   response names another leader -> reconnect there (and remember it)
//   response lists volume_locations_changed -> onLocationsChanged(ids) (cached lookups are stale)
//   stream error or end -> reconnect after a capped, jittered exponential backoff, next master
//
// "connected" means the master answered on this stream without pointing elsewhere: only then
// does the leader hold our report, which is what /readyz promises.
// SeaweedFS: weed/server/volume_grpc_client_to_master.go.
import { create } from "@bufbuild/protobuf";
import { status as GrpcStatus, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import type { Logger } from "../common/logger.js";
import { assert } from "../common/errors.js";
import { grpcAddress, parseServerAddress, type ServerAddress } from "../common/server-address.js";
import { createClient, type RequestEncoders } from "../grpc/adapter.js";
import { HeartbeatSchema, Seaweed, type Heartbeat, type HeartbeatResponse } from "../gen/master_pb.js";
import type { StoreApi, StoreEvent, VolumeInfo } from "./storage/store-api.js";
import {
  heartbeatAnswerTimeoutMs,
  heartbeatKeepaliveMs,
  heartbeatKeepaliveTimeoutMs,
  heartbeatReconnectBaseMs,
  heartbeatReconnectJitter,
  heartbeatElectionPollMs,
  heartbeatStaleLeaderMs,
  heartbeatOutageWarnMs,
  heartbeatRedirectsAtOnceMax,
  heartbeatReconnectMsMax,
  knownMastersMax,
} from "./limits.js";
import { volumeInformationMessage, volumeShortInformationMessage } from "./volume-messages.js";
import { encodeHeartbeat } from "./heartbeat-encode.js";
import { readClusterId, validClusterId, writeClusterId } from "./cluster-id-file.js";
import { VolumeStateWatch, volumeStateCheckIntervalMs } from "./volume-state-watch.js";

/** SendHeartbeat's beats through the hand-written encoder; one object, so createClient caches it. */
const heartbeatEncoders: RequestEncoders = { sendHeartbeat: encodeHeartbeat };
/**
 * After losing a leader's stream, followers that still name it for this long are believed: an
 * election (300-600 ms timeout, a round of votes) would have named another by then, so the leader is
 * alive and was only slow to answer our keepalive ping (a leader busy with 1,000 servers, a GC
 * pause). The volume server goes back to it rather than polling for heartbeatStaleLeaderMs.
 */
export const heartbeatLeaderConfirmMs = 1_500;
/**
 * Each time a leader turns out slow rather than gone (heartbeatLeaderConfirmMs), the keepalive
 * timeout for it doubles, up to this: a loaded leader is not left again and again by every server at
 * once (each time they all re-register together, the next stall follows: issue 15's loop), while a
 * leader that hangs or is cut off is still left within a few seconds. Back to the default once
 * another master leads.
 */
export const heartbeatKeepaliveTimeoutMsMax = 3_200;
/**
 * While followers name the lost leader, the first this many polls come every heartbeatElectionPollMs
 * (jittered: 50-100 ms, so ~0.9 s in all: an election timeout of 300-600 ms, a vote, and slack for a
 * loaded machine), so a failover is still noticed within ~100 ms of the vote; after them each waits
 * twice as long as the one before, up to heartbeatElectionPollMsMax: a thousand servers polling
 * every 100 ms for seconds opened tens of thousands of streams on the masters that were electing
 * (bench:scale, issue 15).
 */
export const heartbeatElectionFastPolls = 12;
export const heartbeatElectionPollMsMax = 800;

export interface HeartbeatIdentity {
  ip: string;
  port: number;
  grpcPort: number;
  publicUrl: string;
  dataCenter: string;
  rack: string;
  /** "ip:port". */
  id: string;
}

export interface HeartbeatClientOptions {
  store: StoreApi;
  identity: HeartbeatIdentity;
  /** Seed masters, "host:port[.grpcPort]"; must not be empty. */
  masters: readonly string[];
  intervalMs: number;
  logger: Logger;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  /** A master that has not answered a stream's first beat within this is given up. */
  answerTimeoutMs?: number;
  /** Injected for jitter; Math.random by default. */
  random?: () => number;
  /** The volume count to report (lowered while the disk is short of space). Default: store.maxVolumeCount. */
  maxVolumeCount?: () => number;
  /**
   * The leader says these volumes' locations changed; "all" when a stream to a leader starts (what
   * changed while there was none was not heard).
   */
  onLocationsChanged?: (volumeIds: readonly number[] | "all") => void;
  /**
   * Where the cluster id of this server's -dir is kept (cluster-id-file.ts; the volume server
   * passes <dir>/cluster.id). Absent: kept in memory only (tests with a store of their own).
   */
  clusterIdFile?: string;
  /** How often volume states are compared with the last beat's. Default volumeStateCheckIntervalMs. */
  stateCheckIntervalMs?: number;
  /**
   * Volumes left out of full beats (SeaweedFS stops reporting an expired TTL volume before its
   * server deletes it): the master drops them. Default: none.
   */
  unreported?: (info: VolumeInfo) => boolean;
}

type SessionEnd =
  | { kind: "redirect"; leader: string; answered: boolean }
  /** `refused`: the master answered with a refusal (another cluster, credentials), not silence. */
  | { kind: "failed"; reason: string; answered: boolean; refused?: boolean }
  | { kind: "aborted" };

type HeartbeatCall = ClientDuplexStream<Heartbeat, HeartbeatResponse>;

/** A master that answered no (a status other than "could not reach it"), as opposed to silence. */
function isRefusal(err: ServiceError): boolean {
  const silent = [GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.CANCELLED];
  return typeof err.code === "number" && !silent.includes(err.code);
}

function sameServer(a: ServerAddress, b: ServerAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export class HeartbeatClient {
  readonly #o: HeartbeatClientOptions;
  readonly #log: Logger;
  readonly #seeds: number;
  /** Seeds first, then masters learned from leader hints (oldest first). */
  readonly #masters: string[];
  readonly #random: () => number;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #connected = false;
  #current: string | undefined;
  #volumeSizeLimit = 0n;
  readonly #clusterIdFile: string | undefined;
  /** The cluster this server belongs to ("" until a master told it): sent with every beat. */
  #clusterId: string;
  /** Sends a full beat on the open stream; undefined between streams. */
  #sendFullBeat: (() => void) | undefined;
  readonly #states = new VolumeStateWatch();
  /** A leader that was slow rather than gone, and the keepalive timeout its sessions get now. */
  #slow: { master: string; keepaliveTimeoutMs: number } | undefined;

  constructor(o: HeartbeatClientOptions) {
    assert(o.masters.length > 0, "heartbeat client needs at least one master");
    assert(o.intervalMs > 0, "heartbeat interval must be positive");
    for (const m of o.masters) parseServerAddress(m); // fail now, naming the bad one
    this.#o = o;
    this.#log = o.logger.child({ module: "heartbeat" });
    this.#masters = [...new Set(o.masters)];
    this.#seeds = this.#masters.length;
    this.#random = o.random ?? Math.random;
    this.#clusterIdFile = o.clusterIdFile;
    this.#clusterId = this.#clusterIdFile === undefined ? "" : readClusterId(this.#clusterIdFile);
  }

  /** The cluster id this server belongs to, "" before any master told it. */
  get clusterId(): string {
    return this.#clusterId;
  }

  /**
   * A master's answer names its cluster: a server without one joins it (and keeps it on disk); a
   * server of another cluster says so and returns false (the master refuses it too).
   */
  #checkCluster(master: string, theirs: string): boolean {
    if (theirs === "" || theirs === this.#clusterId) return true;
    if (this.#clusterId !== "") {
      this.#log.error(
        { master, ours: this.#clusterId, theirs, file: this.#clusterIdFile },
        "master belongs to another cluster than this volume server's -dir: not joining it",
      );
      return false;
    }
    if (!validClusterId(theirs)) {
      this.#log.warn({ master, theirs }, "master sent a malformed cluster id: ignored");
      return true;
    }
    this.#clusterId = theirs;
    if (this.#clusterIdFile !== undefined) {
      try {
        writeClusterId(this.#clusterIdFile, theirs);
      } catch (err) {
        this.#log.warn({ err, file: this.#clusterIdFile }, "cannot keep the cluster id on disk; kept in memory");
      }
    }
    this.#log.info({ master, clusterId: theirs, file: this.#clusterIdFile }, "joined cluster");
    return true;
  }

  get connected(): boolean {
    return this.#connected;
  }
  /** The master the current (or last) stream goes to. */
  get currentMaster(): string | undefined {
    return this.#current;
  }
  get masters(): readonly string[] {
    return this.#masters;
  }
  /** Last volume_size_limit the leader sent (bytes), 0 before any. */
  get volumeSizeLimit(): bigint {
    return this.#volumeSizeLimit;
  }

  /**
   * A full beat now, on the stream open (if any): volumes turned read-only or writable again
   * (disk space) reach the master at once, not at the next interval.
   */
  beatNow(): void {
    this.#sendFullBeat?.();
  }

  start(): void {
    if (this.#loop !== undefined) return;
    this.#abort = new AbortController();
    this.#loop = this.#run(this.#abort.signal);
  }

  async close(): Promise<void> {
    if (this.#loop === undefined) return;
    this.#abort?.abort();
    await this.#loop;
    this.#connected = false;
  }

  /** Tracks an outage (no master answering): warned once past heartbeatOutageWarnMs, ended by an answer. */
  #noteOutage(
    outage: { since: number; warned: boolean } | undefined,
    answered: boolean,
  ): { since: number; warned: boolean } | undefined {
    if (answered) {
      if (outage?.warned === true) this.#log.info({ masters: this.#masters }, "a master answers again");
      return undefined;
    }
    const now = performance.now();
    const o = outage ?? { since: now, warned: false };
    if (!o.warned && now - o.since >= heartbeatOutageWarnMs) {
      const seconds = Math.round((now - o.since) / 1000);
      this.#log.warn({ masters: this.#masters, seconds }, "no master has answered for a while: still trying");
      o.warned = true;
    }
    return o;
  }

  async #run(signal: AbortSignal): Promise<void> {
    let index = 0;
    let failures = 0;
    let redirects = 0;
    /**
     * The master we were heartbeating to when its stream broke: during the election that follows,
     * followers still name it.
     */
    let lost: { master: string; at: number; polls: number } | undefined;
    /** Since when no master has answered, and whether that was said (once per outage). */
    let outage: { since: number; warned: boolean } | undefined;
    /** The last refusal said (a master refusing on every retry is said once, until it changes). */
    let lastRefusal: string | undefined;
    while (!signal.aborted) {
      const master = this.#masters[index % this.#masters.length]!;
      this.#current = master;
      const end = await this.#session(master, signal);
      this.#connected = false;
      if (end.kind === "aborted") break;
      if (end.answered) failures = 0;
      outage = this.#noteOutage(outage, end.answered);
      if (end.kind === "redirect") {
        const sinceLost = lost === undefined ? Infinity : performance.now() - lost.at;
        if (
          lost !== undefined &&
          sinceLost < heartbeatStaleLeaderMs &&
          sameServer(parseServerAddress(end.leader), parseServerAddress(lost.master))
        ) {
          if (sinceLost >= heartbeatLeaderConfirmMs) {
            // No election followed: the leader is alive, only slow. Back to it, more patient.
            this.#slowedDown(lost.master);
            lost = undefined;
            index = this.#learn(end.leader);
            continue;
          }
          // The election is still under way: ask the next master again shortly, without backing off.
          this.#log.debug(
            { master, leader: end.leader },
            "master still names the leader we lost: waiting for the election",
          );
          index = this.#nextAfter(master, lost);
          await sleep(this.#jittered(electionPollMs(lost.polls++)), signal);
          continue;
        }
        this.#log.info({ master, leader: end.leader }, "master names another leader: reconnecting there");
        index = this.#learn(end.leader);
        // A redirect is not a failure: go at once (a few times in a row at most, in case two
        // masters name each other while leadership moves).
        if (++redirects <= heartbeatRedirectsAtOnceMax) continue;
      } else {
        const justLost = end.answered;
        if (justLost) lost = { master, at: performance.now(), polls: 0 };
        // A stream that was heartbeating is worth a warning; a retry that found nobody is not
        // (said once per outage by #noteOutage).
        const refusal = end.refused === true ? `${master} ${end.reason}` : undefined;
        if (end.answered) this.#log.warn({ master, reason: end.reason }, "heartbeat stream lost");
        else if (refusal !== undefined && refusal !== lastRefusal)
          this.#log.warn({ master, reason: end.reason }, "master refused the heartbeat");
        else this.#log.debug({ master, reason: end.reason }, "master did not answer");
        lastRefusal = refusal;
        index = justLost ? this.#anyOtherThan(master) : this.#nextAfter(master, lost);
      }
      redirects = 0;
      const electing = end.answered || (lost !== undefined && performance.now() - lost.at < heartbeatStaleLeaderMs);
      const delay = electing ? this.#jittered(electionPollMs(lost?.polls ?? 0)) : this.#backoffMs(failures);
      if (electing && lost !== undefined) lost.polls++;
      failures++;
      await sleep(delay, signal);
    }
    this.#connected = false;
  }

  /**
   * The master to ask after `master`. The leader we just lost is skipped while its successor is
   * being elected (heartbeatStaleLeaderMs): the others answer "no leader yet" for a moment, and
   * going back to the lost one, cut off or hung, would cost a whole answer timeout. A follower
   * that names it leader again still sends us there.
   */
  #nextAfter(master: string, lost: { master: string; at: number } | undefined): number {
    const n = this.#masters.length;
    const i = (this.#masters.indexOf(master) + 1) % n;
    const electing = lost !== undefined && performance.now() - lost.at < heartbeatStaleLeaderMs;
    // Entries are distinct servers (#learn), so at most one is the lost leader.
    return n > 1 && electing && this.#masters[i] === lost.master ? (i + 1) % n : i;
  }

  /**
   * The first master asked after losing the leader's stream: any other, drawn at random. A thousand
   * servers that lost their leader together spread over the survivors instead of all asking the same
   * one, and those that ask the one being elected are served on the stream they opened (a master
   * holds a stream through an election and keeps it if it wins) rather than redirected to it.
   */
  #anyOtherThan(master: string): number {
    const others = this.#masters.flatMap((m, i) => (m === master ? [] : [i]));
    if (others.length === 0) return this.#masters.indexOf(master);
    return others[Math.min(others.length - 1, Math.floor(this.#random() * others.length))]!;
  }

  /** `master` was slow rather than gone: its sessions get a longer keepalive timeout. */
  #slowedDown(master: string): void {
    const base = this.#o.keepaliveTimeoutMs ?? heartbeatKeepaliveTimeoutMs;
    const was = this.#slow?.master === master ? this.#slow.keepaliveTimeoutMs : base;
    const keepaliveTimeoutMs = Math.min(heartbeatKeepaliveTimeoutMsMax, Math.max(base, was * 2));
    this.#slow = { master, keepaliveTimeoutMs };
    this.#log.info(
      { master, keepaliveTimeoutMs },
      "the leader we left is still leading: it was slow to answer, not gone; going back with more patience",
    );
  }

  /** A leader answered a new stream's first beat: this server is connected. */
  #answeredFirst(master: string, addr: ServerAddress): void {
    this.#connected = true;
    // Another master leads now: the patience earned by the slow one does not carry over.
    if (this.#slow !== undefined && !sameServer(parseServerAddress(this.#slow.master), addr)) this.#slow = undefined;
    this.#log.info({ master }, "heartbeating to master");
    this.#o.onLocationsChanged?.("all");
  }

  /** The keepalive timeout for a session to `addr`. */
  #keepaliveTimeoutFor(addr: ServerAddress): number {
    const slow = this.#slow;
    if (slow !== undefined && sameServer(parseServerAddress(slow.master), addr)) return slow.keepaliveTimeoutMs;
    return this.#o.keepaliveTimeoutMs ?? heartbeatKeepaliveTimeoutMs;
  }

  #jittered(ms: number): number {
    return Math.round(ms * (1 - heartbeatReconnectJitter * this.#random()));
  }

  /** Drawn from [d(1-j), d] with d = base * 2^failures, capped. */
  #backoffMs(failures: number): number {
    const base = this.#o.reconnectBaseMs ?? heartbeatReconnectBaseMs;
    const max = this.#o.reconnectMaxMs ?? heartbeatReconnectMsMax;
    const d = Math.min(max, base * 2 ** Math.min(failures, 30));
    return Math.round(d * (1 - heartbeatReconnectJitter * this.#random()));
  }

  /** Index of `leader` in the known list, adding it (evicting the oldest learned one) if new. */
  #learn(leader: string): number {
    const addr = parseServerAddress(leader);
    const known = this.#masters.findIndex((m) => sameServer(parseServerAddress(m), addr));
    if (known >= 0) {
      // The leader's own spelling wins (it may carry a non-default gRPC port).
      this.#masters[known] = leader;
      return known;
    }
    if (this.#masters.length >= knownMastersMax && this.#masters.length > this.#seeds)
      this.#masters.splice(this.#seeds, 1);
    this.#masters.push(leader);
    return this.#masters.length - 1;
  }

  /** The volumes a full beat reports. */
  #reportedVolumes(): VolumeInfo[] {
    const infos = this.#o.store.volumeInfos();
    const unreported = this.#o.unreported;
    return unreported === undefined ? infos : infos.filter((v) => !unreported(v));
  }

  /** Some volume turned full, crowded, read-only or writable since the last beat. */
  #statesChanged(): boolean {
    return this.#states.changed(this.#reportedVolumes(), Number(this.#volumeSizeLimit));
  }

  #fullBeat(): Heartbeat {
    const { store, identity: id } = this.#o;
    const infos = this.#reportedVolumes();
    this.#states.changed(infos, Number(this.#volumeSizeLimit));
    return create(HeartbeatSchema, {
      ...identityFields(id),
      maxVolumeCounts: { "": this.#o.maxVolumeCount?.() ?? store.maxVolumeCount },
      maxFileKey: store.maxFileKey(),
      volumes: infos.map(volumeInformationMessage),
      hasNoVolumes: infos.length === 0,
      clusterId: this.#clusterId,
    });
  }

  #deltaBeat(e: StoreEvent): Heartbeat {
    const id = this.#o.identity;
    const short = [volumeShortInformationMessage(e.info)];
    return create(HeartbeatSchema, {
      ...identityFields(id),
      maxFileKey: this.#o.store.maxFileKey(),
      ...(e.kind === "volume-added" ? { newVolumes: short } : { deletedVolumes: short }),
      clusterId: this.#clusterId,
    });
  }

  /**
   * A full beat every intervalMs, and at once when a volume turned full, crowded, read-only or
   * writable (once the master answered); returns what stops both.
   */
  #beatTimers(sendFull: () => void, answered: () => boolean): () => void {
    const every = setInterval(sendFull, this.#o.intervalMs);
    const states = setInterval(
      () => answered() && this.#statesChanged() && sendFull(),
      this.#o.stateCheckIntervalMs ?? volumeStateCheckIntervalMs,
    );
    return () => {
      clearInterval(every);
      clearInterval(states);
    };
  }

  /** A session's own gRPC client: closing it must abandon a connect stuck behind a cut. */
  #client(addr: ServerAddress): ReturnType<typeof createClient<typeof Seaweed>> {
    const options = {
      "grpc.keepalive_time_ms": this.#o.keepaliveMs ?? heartbeatKeepaliveMs,
      "grpc.keepalive_timeout_ms": this.#keepaliveTimeoutFor(addr),
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.use_local_subchannel_pool": 1,
    };
    // The process's credentials (undefined: createClient's default); full beats by hand (heartbeat-encode.ts).
    return createClient(Seaweed, grpcAddress(addr), options, undefined, heartbeatEncoders);
  }

  /** One stream to `master`, until it fails, redirects, or `signal` aborts. Never throws. */
  #session(master: string, signal: AbortSignal): Promise<SessionEnd> {
    return new Promise<SessionEnd>((resolve) => {
      if (signal.aborted) return resolve({ kind: "aborted" });
      let addr: ServerAddress;
      try {
        addr = parseServerAddress(master);
      } catch (err) {
        return resolve({ kind: "failed", reason: (err as Error).message, answered: false });
      }
      this.#log.debug({ master }, "opening a heartbeat stream");
      const client = this.#client(addr);
      const call: HeartbeatCall = client.sendHeartbeat();
      let answered = false;
      let settled = false;
      // Backpressure: while a write waits for 'drain', beats are skipped; the next full beat
      // carries everything a skipped one would have, so at most one message is ever queued.
      let draining = false;
      const send = (msg: Heartbeat): void => {
        if (draining || settled) return;
        if (!call.write(msg)) {
          draining = true;
          call.once("drain", () => (draining = false));
        }
      };
      const onChange = (e: StoreEvent): void => send(this.#deltaBeat(e));
      const sendFull = (): void => send(this.#fullBeat());
      const stopTimers = this.#beatTimers(sendFull, () => answered);
      const answerTimeoutMs = this.#o.answerTimeoutMs ?? heartbeatAnswerTimeoutMs;
      const unanswered = setTimeout(() => {
        if (!answered) finish({ kind: "failed", reason: `no answer within ${answerTimeoutMs} ms`, answered });
      }, answerTimeoutMs);
      this.#sendFullBeat = sendFull;
      const finish = (end: SessionEnd): void => {
        if (settled) return;
        settled = true;
        if (this.#sendFullBeat === sendFull) this.#sendFullBeat = undefined;
        stopTimers();
        clearTimeout(unanswered);
        this.#o.store.off("change", onChange);
        signal.removeEventListener("abort", onAbort);
        call.cancel();
        client.close();
        resolve(end);
      };
      const onAbort = (): void => finish({ kind: "aborted" });
      call.on("data", (resp: HeartbeatResponse) => {
        const other = {
          kind: "failed",
          reason: `another cluster (${resp.clusterId})`,
          answered,
          refused: true,
        } as const;
        if (!this.#checkCluster(master, resp.clusterId)) return finish(other);
        if (resp.leader !== "") {
          let leader: ServerAddress | undefined;
          try {
            leader = parseServerAddress(resp.leader);
          } catch {
            this.#log.warn({ master, leader: resp.leader }, "master sent an unparseable leader address: ignored");
          }
          if (leader !== undefined && !sameServer(leader, addr))
            return finish({ kind: "redirect", leader: resp.leader, answered });
        }
        if (resp.volumeSizeLimit !== 0n) this.#volumeSizeLimit = resp.volumeSizeLimit;
        if (!answered) {
          answered = true;
          this.#answeredFirst(master, addr);
        }
        if (resp.volumeLocationsChanged.length > 0) this.#o.onLocationsChanged?.(resp.volumeLocationsChanged);
      });
      call.on("error", (err: Error) =>
        finish({ kind: "failed", reason: err.message, answered, refused: isRefusal(err as ServiceError) }),
      );
      call.on("end", () => finish({ kind: "failed", reason: "master ended the stream", answered }));
      signal.addEventListener("abort", onAbort, { once: true });
      this.#o.store.on("change", onChange);
      send(this.#fullBeat());
    });
  }
}

/** The wait before the `polls`-th ask while followers name the lost leader: steady, then doubling, capped. */
function electionPollMs(polls: number): number {
  const slow = Math.max(0, polls - heartbeatElectionFastPolls + 1);
  return Math.min(heartbeatElectionPollMsMax, heartbeatElectionPollMs * 2 ** Math.min(slow, 16));
}

/** The fields every beat repeats, so that any beat can (re)register the server. */
function identityFields(
  id: HeartbeatIdentity,
): Pick<Heartbeat, "ip" | "port" | "publicUrl" | "grpcPort" | "id" | "dataCenter" | "rack"> {
  return {
    ip: id.ip,
    port: id.port,
    publicUrl: id.publicUrl,
    grpcPort: id.grpcPort,
    id: id.id,
    dataCenter: id.dataCenter,
    rack: id.rack,
  };
}
