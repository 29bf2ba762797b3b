// Seaweed.SendHeartbeat: one bidi stream per volume server. The first message registers the
// server; a message with `volumes` (or has_no_volumes) replaces its replica set; new_volumes and
// deleted_volumes are deltas. Every message is answered with the size limit and the leader, once
// applied: beats are queued in arrival order and applied a few milliseconds per turn of the event
// loop (beatTurnBudgetMs), so a thousand servers reporting together never hold the loop. When the
// stream ends or breaks the server is dropped with its volumes (a few per turn too), and it
// re-registers with a full report when it reconnects. A stream can also go silent without breaking (a hung
// process keeps its TCP connection; a lossy cut is noticed by keepalive, a hung peer is not): a
// server that sent no beat for silentPulsesMax pulses is dropped too, and its stream failed.
// Whenever the set of locations of a volume changes here (a server joins or leaves with volumes, a
// volume is added or deleted), the volume's id is sent in volume_locations_changed (coalesced and
// bounded: location-push.ts) to every open stream, or in a burst to the streams of the servers
// holding it, so volume servers drop their cached lookups of it and replicate the next write to the
// new set of locations.
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { ErrorCode, WeedError, grpcStatusOf } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { grpcPortOffset } from "../../common/server-address.js";
import {
  HeartbeatResponseSchema,
  type Heartbeat,
  type HeartbeatResponse,
  type VolumeInformationMessage,
  type VolumeShortInformationMessage,
} from "../../gen/master_pb.js";
import type { ClusterState } from "../state/cluster-state.js";
import type { ClusterView } from "../state/cluster-view.js";
import type { DataNode, NodeSpec, ReplicaInfo } from "../topology/data-node.js";
import { heartbeatVolumesMax, silentPulsesMax } from "../limits.js";
import { checkHeartbeatCluster, checkVolumeCount, saneVolumes, volumeIdAheadMax } from "./heartbeat-bounds.js";
import { LocationPush, locationPushBroadcastIdsMax } from "./location-push.js";
import { LogOncePer, remoteHost } from "../../raft/runtime/index.js";
import type { MasterMetrics } from "./metrics.js";
import type { Sequencer } from "../state/sequencer.js";
import type { Topology } from "../topology/topology.js";

export type HeartbeatCall = grpc.ServerDuplexStream<Heartbeat, HeartbeatResponse>;

export interface HeartbeatServiceDeps {
  topology: Topology;
  sequencer: Sequencer;
  state: ClusterState;
  logger: Logger;
  metrics: MasterMetrics;
  /**
   * Who leads: `leader()` is sent as `leader` in every response (null during elections); a master
   * that is not leading answers a stream's first beat with the leader and ends it, or holds it
   * through an election (leaderKnown). `self` is this master as `leader()` names it.
   */
  cluster: Pick<ClusterView, "self" | "isLeader" | "leader" | "leaderKnown">;
  /**
   * Called once a server is dropped, to release what was kept for it (gRPC clients, HTTP pools).
   * `vanished`: it went silent or its connection broke, so requests in flight to it will not be
   * answered and are failed now; false when its stream ended in order.
   */
  onNodeLeft?: (node: DataNode, vanished: boolean) => void;
  /** Volume servers' full-beat interval (ms), -pulseSeconds. */
  pulseMs: number;
  /** Monotonic milliseconds; performance.now by default. */
  now?: () => number;
}

/**
 * Time spent dropping servers that left, per turn of the event loop: a few servers of a few hundred
 * volumes each, while Raft ticks (50 ms) and the servers' keepalive answers (400 ms) get through.
 */
const dropTurnBudgetMs = 5;

/**
 * Time spent applying queued beats per turn of the event loop. A full beat of 100 volumes takes
 * ~0.3 ms to apply; 1,000 servers re-registering at once after a failover (or every pulse's beats
 * arriving in one poll) applied in their stream events held the loop for hundreds of ms, past the
 * Raft election timeout (300-600 ms) and the servers' keepalive. Queued and applied a few ms at a
 * time, an assign or lookup waits at most about this long behind beats (issue 15: assign p99 under
 * 5 ms), and Raft's 50 ms tick is never late by more than a turn.
 */
export const beatTurnBudgetMs = 2;
/**
 * ...but while beats queue up, a turn may take as long as the I/O between it and the turn before
 * (up to this): the poll phase decodes every beat that arrived, so a fixed 2 ms per turn fell behind
 * a re-registration burst and applied it at a fraction of the loop; this way applying gets about
 * half of the loop while the burst lasts. A fifth of the Raft tick (50 ms).
 */
export const beatTurnBudgetMsMax = 10;

/**
 * How long a master that is not leading holds a volume server's stream while no leader is known.
 * An election after a leader's loss settles within an election timeout and a vote (300-600 ms and a
 * round trip; ~200-500 ms after a kill -9 on this machine); a split vote adds another timeout. A
 * second covers that, and stays under the volume server's wait for a first answer
 * (heartbeatAnswerTimeoutMs, 2 s), so a held stream is answered, not abandoned. A master that stays
 * leaderless (cut off with a minority) costs a volume server at most this before it asks another.
 */
export const electionHoldMs = 1_000;

/**
 * Streams held through an election at once: one per volume server that lost its leader (issue 15
 * runs 1,000), with room; past it a stream is refused at once as before the hold, so a storm of
 * reconnects cannot pile up timers and buffered beats without bound.
 */
export const electionHeldStreamsMax = 4_096;

/**
 * Beats a held stream may bring before the hold ends: its full beat and the deltas of a store
 * change or two (a volume server sends one full beat per pulse, 5 s, and a delta per volume added
 * or deleted). Held beats are decoded messages kept in memory (a 100-volume beat is tens of KB), so
 * a stream sending more is refused rather than buffered.
 */
export const electionHeldBeatsMax = 8;

/** A beat applied later than this after it arrived is said (once per minute): the leader is behind. */
const beatLagWarnMs = 1_000;

/** Applied beats at the queue's head are cut off past this many (and half the array): shift() is O(n). */
const beatQueueCompactAt = 1_024;

interface PendingBeat {
  /** Applies the beat and answers it; nothing if its stream ended meanwhile. */
  apply: () => void;
  arrivedAt: number;
}

interface PendingDrop {
  node: DataNode;
  why: string;
  vanished: boolean;
}

/** A leader's stream from one volume server. */
interface LiveStream {
  lastBeatAt: number;
  /** This master ended the stream (it stopped leading or is closing): the server is not gone. */
  sentOn: boolean;
  /** Drops the server and fails the stream: it stayed quiet for `quietMs`. */
  silenced(quietMs: number): void;
  /** Volumes of this stream were refused as insane (logged once per stream, not per beat). */
  refusedLogged: boolean;
}

export class HeartbeatService {
  private readonly deps: HeartbeatServiceDeps;
  private readonly streams = new Map<HeartbeatCall, LiveStream>();
  /** The stream each registered server's beats come on: a burst of location changes goes to holders. */
  private readonly nodeStreams = new Map<DataNode, HeartbeatCall>();
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private response: HeartbeatResponse | undefined;
  private responseLeader = "";
  private responseCluster = "";
  private readonly otherClusterLog = new LogOncePer();
  private closed = false;
  private readonly locationPush: LocationPush;
  /** Servers that left, dropped a turn at a time (dropNode). */
  private readonly dropsPending: PendingDrop[] = [];
  private dropTimer: NodeJS.Immediate | undefined;
  /** Beats received and not applied yet, in arrival order (applyPending); `beatsHead` is the next. */
  private beatsPending: PendingBeat[] = [];
  private beatsHead = 0;
  private beatTimer: NodeJS.Immediate | undefined;
  /** When the last turn of applying beats ended (now() scale). */
  private beatTurnEndedAt = 0;
  private readonly beatLagLog = new LogOncePer();
  private readonly unwatchLocations: () => void;
  /** Follower streams held through an election (holdForLeader), aborted on close(). */
  private readonly held = new Set<AbortController>();

  constructor(deps: HeartbeatServiceDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => performance.now());
    this.locationPush = new LocationPush({ send: (ids) => this.pushLocations(ids) });
    this.unwatchLocations = deps.topology.watchLocations((vid) => this.locationPush.changed(vid));
  }

  /** Ends every stream (volume servers reconnect elsewhere or to us after a restart). */
  close(): void {
    this.closed = true;
    for (const hold of [...this.held]) hold.abort();
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.unwatchLocations();
    this.locationPush.close();
    this.endAll();
    this.dropPending(Infinity);
    clearImmediate(this.beatTimer);
    this.beatTimer = undefined;
    this.beatsPending = [];
    this.beatsHead = 0;
  }

  /** Beats received and not applied yet. */
  get beatsQueued(): number {
    return this.beatsPending.length - this.beatsHead;
  }

  /**
   * Tells the streams that these volumes' locations changed: every stream, one message, for a few
   * ids; for a burst, each holder's stream the ids of its own volumes (locationPushBroadcastIdsMax).
   */
  private pushLocations(volumeIds: number[]): void {
    if (this.streams.size === 0) return;
    if (volumeIds.length <= locationPushBroadcastIdsMax) {
      const msg = this.locationsMessage(volumeIds);
      for (const call of this.streams.keys()) this.writeLocations(call, msg);
    } else {
      const byStream = new Map<HeartbeatCall, number[]>();
      for (const vid of volumeIds) {
        for (const node of this.deps.topology.lookup(vid) ?? []) {
          const call = this.nodeStreams.get(node);
          if (call === undefined) continue;
          const ids = byStream.get(call);
          if (ids === undefined) byStream.set(call, [vid]);
          else ids.push(vid);
        }
      }
      for (const [call, ids] of byStream) this.writeLocations(call, this.locationsMessage(ids));
    }
    this.deps.metrics.locationsPushed(volumeIds.length);
  }

  private locationsMessage(volumeIds: number[]): HeartbeatResponse {
    return create(HeartbeatResponseSchema, {
      volumeSizeLimit: BigInt(this.deps.topology.volumeSizeLimitBytes),
      leader: this.deps.cluster.leader() ?? "",
      volumeLocationsChanged: volumeIds,
    });
  }

  private writeLocations(call: HeartbeatCall, msg: HeartbeatResponse): void {
    if (this.streams.get(call)?.sentOn !== false) return;
    try {
      call.write(msg);
    } catch {
      // A broken stream is cleaned up by its own error handler; the others still get the message.
    }
  }

  /** Drops every server whose stream carried no beat for silentPulsesMax pulses. */
  sweep(): void {
    const limit = silentPulsesMax * this.deps.pulseMs;
    const now = this.now();
    for (const s of [...this.streams.values()]) {
      const quiet = now - s.lastBeatAt;
      if (quiet > limit) s.silenced(quiet);
    }
  }

  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.closed) return;
    // Half a pulse: a silent server goes between 3 and 3.5 pulses after its last beat.
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(1, this.deps.pulseMs / 2));
    this.sweepTimer.unref();
  }

  /**
   * Ends every stream after telling it the leader: called when this master stops leading, so
   * volume servers move to the new leader at once and the soft topology here empties.
   */
  endAll(): void {
    for (const [call, live] of [...this.streams]) {
      live.sentOn = true;
      try {
        call.write(this.reply());
      } catch {
        // The stream is already broken; ending it is all that is left.
      }
      call.end();
    }
  }

  readonly handle = (call: HeartbeatCall): void => {
    if (this.closed) {
      failStream(call, closingError());
      return;
    }
    if (!this.deps.cluster.isLeader()) {
      this.answerAsFollower(call);
      return;
    }
    this.serveLeading(call, []);
  };

  /**
   * A follower has no topology: it answers the first beat with the leader's name, and the volume
   * server reconnects there. During an election (no leader known, or this master won and does not
   * serve yet) the stream is held until a leader is known (electionHoldMs): answered with the
   * winner's name the moment it is known, or, when this master won, served as the leader's own
   * stream with the beats it brought. Without the hold every volume server that lost its leader
   * polled the masters every ~100 ms through the election, a new connection and a full beat each
   * time (1,000 servers: ~10,000 a second on the masters that were electing), and reached the new
   * leader a poll or more after it was elected.
   */
  private answerAsFollower(call: HeartbeatCall): void {
    const beats: Heartbeat[] = [];
    let refused = false;
    const onData = (hb: Heartbeat): void => {
      if (beats.length > 0) {
        // Beats sent while held (a store change) are kept for the leader's path, so none is lost;
        // a stream that sends more than a server would in the hold is refused, not buffered.
        if (beats.push(hb) <= electionHeldBeatsMax) return;
        refused = true;
        call.off("data", onData);
        failStream(call, noLeaderYet());
        return;
      }
      beats.push(hb);
      try {
        checkHeartbeatCluster(hb.clusterId, this.deps.state.topologyId);
      } catch (err) {
        call.off("data", onData);
        this.logOtherCluster(call, err);
        failStream(call, err);
        return;
      }
      const { cluster } = this.deps;
      const leader = cluster.leader();
      if (leader !== null && leader !== cluster.self) {
        call.off("data", onData);
        call.write(this.reply());
        call.end();
        return;
      }
      this.holdForLeader(call, () => {
        call.off("data", onData);
        return refused ? undefined : beats;
      });
    };
    call.on("data", onData);
    call.on("error", () => undefined);
  }

  /**
   * Holds a follower's stream until a leader is known, at most electionHoldMs; `release` stops
   * collecting the stream's beats and returns them (undefined: the stream was refused meanwhile).
   * A stream held past that, or beyond electionHeldStreamsMax, is refused as before ("no leader
   * yet": the volume server asks again).
   */
  private holdForLeader(call: HeartbeatCall, release: () => Heartbeat[] | undefined): void {
    const { cluster } = this.deps;
    if (this.closed || this.held.size >= electionHeldStreamsMax) {
      release();
      failStream(call, noLeaderYet());
      return;
    }
    const hold = new AbortController();
    const timer = setTimeout(() => hold.abort(), electionHoldMs);
    const gone = (): void => hold.abort();
    const events = ["end", "error", "cancelled", "close"] as const;
    for (const e of events) call.once(e, gone);
    this.held.add(hold);
    const done = (): Heartbeat[] | undefined => {
      clearTimeout(timer);
      this.held.delete(hold);
      for (const e of events) call.off(e, gone);
      return release();
    };
    cluster.leaderKnown({ signal: hold.signal }).then(
      (leader) => {
        const beats = done();
        if (beats === undefined || call.cancelled || call.destroyed) return;
        // Leading still (a step-down in between would have missed this stream in endAll()).
        if (leader === cluster.self && cluster.isLeader()) return this.serveLeading(call, beats);
        if (cluster.leader() === null || cluster.leader() === cluster.self) return failStream(call, noLeaderYet());
        call.write(this.reply());
        call.end();
      },
      () => {
        // Timed out, or the master is closing; a stream refused or gone needs nothing more.
        if (done() !== undefined && !call.cancelled && !call.destroyed)
          failStream(call, this.closed ? closingError() : noLeaderYet());
      },
    );
  }

  /**
   * A volume server's stream to this leader, until it ends, breaks, goes silent or turns bad.
   * `first`: beats that came before (a stream held through the election this master won).
   */
  private serveLeading(call: HeartbeatCall, first: readonly Heartbeat[]): void {
    let node: DataNode | undefined;
    let done = false;
    /** `abrupt`: the server vanished (rather than ended its stream or was sent on by us). */
    const finish = (why: string, abrupt: boolean): void => {
      if (done) return;
      done = true;
      this.streams.delete(call);
      if (node !== undefined && this.nodeStreams.get(node) === call) this.nodeStreams.delete(node);
      if (node !== undefined) this.dropNode(node, why, abrupt && !live.sentOn);
    };
    const live: LiveStream = {
      lastBeatAt: this.now(),
      sentOn: false,
      refusedLogged: false,
      silenced: (quietMs) => {
        const quiet = `${(quietMs / 1000).toFixed(1)} s`;
        this.deps.metrics.heartbeat("silent");
        this.deps.logger.warn({ node: node?.id, peer: call.getPeer(), quiet }, "volume server silent; dropping it");
        finish(`no heartbeat for ${quiet}`, true);
        failStream(call, new WeedError(ErrorCode.UNAVAILABLE, `no heartbeat for ${quiet}`));
      },
    };
    this.streams.set(call, live);
    this.armSweep();
    const apply = (hb: Heartbeat): void => {
      // Sent on (this master stopped leading) while the beat waited: the server reports to the new leader.
      if (done || live.sentOn) return;
      try {
        node = this.beat(call, live, node, hb);
        this.nodeStreams.set(node, call);
        this.deps.metrics.readiness.reached("firstBeat");
        call.write(this.reply());
      } catch (err) {
        this.deps.metrics.heartbeat("error");
        if (err instanceof WeedError && err.code === ErrorCode.CONFLICT) this.logOtherCluster(call, err);
        else this.deps.logger.warn({ err, peer: call.getPeer() }, "bad heartbeat; closing the stream");
        finish("bad heartbeat", false);
        failStream(call, err);
      }
    };
    const onData = (hb: Heartbeat): void => {
      if (done) return;
      // A beat counts as a sign of life when it arrives, not when its turn to be applied comes.
      live.lastBeatAt = this.now();
      this.queueBeat({ apply: () => apply(hb), arrivedAt: live.lastBeatAt });
    };
    for (const hb of first) onData(hb);
    call.on("data", onData);
    call.on("end", () => {
      finish("stream ended", false);
      call.end();
    });
    call.on("error", () => finish("stream error", true));
    call.on("cancelled", () => finish("stream cancelled", true));
    call.on("close", () => finish("stream closed", true));
  }

  private reply(): HeartbeatResponse {
    // Same for every beat of every server until the leader changes: built once, serialized per write.
    const leader = this.deps.cluster.leader() ?? "";
    const clusterId = this.deps.state.topologyId;
    if (this.response === undefined || this.responseLeader !== leader || this.responseCluster !== clusterId) {
      this.response = create(HeartbeatResponseSchema, {
        volumeSizeLimit: BigInt(this.deps.topology.volumeSizeLimitBytes),
        leader,
        clusterId,
      });
      this.responseLeader = leader;
      this.responseCluster = clusterId;
    }
    return this.response;
  }

  private beat(call: HeartbeatCall, live: LiveStream, known: DataNode | undefined, hb: Heartbeat): DataNode {
    const { topology, metrics, state } = this.deps;
    metrics.heartbeat("total");
    if (known !== undefined && topology.node(known.id) !== known) {
      // The same server opened a newer stream (it reconnected before this one broke): that one owns the node now.
      throw new WeedError(ErrorCode.UNAVAILABLE, `heartbeat stream of ${known.id} superseded by a newer one`);
    }
    // Nothing is applied before these (heartbeat-bounds.ts): another cluster's stream, or a list of
    // volumes no server of its size holds, is refused whole.
    checkHeartbeatCluster(hb.clusterId, state.topologyId);
    if (hb.volumes.length > heartbeatVolumesMax) {
      throw new WeedError(
        ErrorCode.BAD_REQUEST,
        `heartbeat lists ${hb.volumes.length} volumes, over the limit of ${heartbeatVolumesMax}`,
      );
    }
    const hasCounts = Object.keys(hb.maxVolumeCounts).length > 0;
    checkVolumeCount(hb.volumes.length, hasCounts ? sumCounts(hb.maxVolumeCounts) : (known?.maxVolumes ?? 0));
    const ahead = volumeIdAheadMax(hb.clusterId, state.topologyId);
    const volumes = saneVolumes(hb.volumes, state.maxVolumeId, ahead);
    const newVolumes = saneVolumes(hb.newVolumes, state.maxVolumeId, ahead);
    this.logRefused(call, live, known?.id ?? `${hb.ip}:${hb.port}`, [...volumes.refused, ...newVolumes.refused]);
    const node = known ?? this.register(call, hb);
    if (known !== undefined && hasCounts) node.maxVolumes = sumCounts(hb.maxVolumeCounts);
    let maxVid = 0;
    if (hb.volumes.length > 0 || hb.hasNoVolumes) {
      metrics.heartbeat("Volumes");
      const infos = volumes.sane.map(fromVolumeInfo);
      for (const v of infos) maxVid = Math.max(maxVid, v.id);
      const { flagged } = topology.syncVolumes(node, infos);
      for (const v of flagged) this.logFlags(node, v);
    }
    for (const v of newVolumes.sane) {
      metrics.heartbeat("newVolumes");
      maxVid = Math.max(maxVid, v.id);
      if (!node.volumes.has(v.id)) topology.upsertVolume(node, fromShortInfo(v));
    }
    for (const v of hb.deletedVolumes) {
      metrics.heartbeat("deletedVolumes");
      topology.removeVolume(node, v.id);
    }
    this.raiseFloors(maxVid, hb.maxFileKey);
    return node;
  }

  /** Once a minute per host: a refused volume server retries every few seconds for as long as it runs. */
  private logOtherCluster(call: HeartbeatCall, err: unknown): void {
    const peer = call.getPeer();
    if (this.otherClusterLog.shouldLog(remoteHost(peer)))
      this.deps.logger.warn({ err, peer }, "heartbeat of another cluster refused (said once a minute per host)");
  }

  /** Insane volumes are left out of every beat; said once per stream, with the first few reasons. */
  private logRefused(call: HeartbeatCall, live: LiveStream, node: string, refused: string[]): void {
    if (refused.length === 0 || live.refusedLogged) return;
    live.refusedLogged = true;
    this.deps.logger.warn(
      { node, peer: call.getPeer(), refused: refused.length, first: refused.slice(0, 5) },
      "heartbeat claims volumes beyond sane bounds: left out, not applied (said once per stream)",
    );
  }

  /** A replica's read-only or needs-check flag changed: the volume went off or back on the writable list. */
  private logFlags(node: DataNode, v: ReplicaInfo): void {
    const fields = { node: node.id, volumeId: v.id, readOnly: v.readOnly, needsCheck: v.needsCheck };
    if (v.needsCheck) this.deps.logger.warn(fields, "volume replica needs a check; not writable until checked");
    else this.deps.logger.info(fields, "volume replica flags changed");
  }

  private register(call: HeartbeatCall, hb: Heartbeat): DataNode {
    const spec = nodeSpecOf(call, hb);
    const node = this.deps.topology.registerNode(spec);
    this.deps.metrics.heartbeat("dataNode");
    this.deps.logger.info(
      { node: node.id, dataCenter: node.dataCenter.id, rack: node.rack.id, max: node.maxVolumes },
      "volume server joined",
    );
    return node;
  }

  /**
   * Drops a server that left, in turns of at most dropTurnBudgetMs (dropsPending): hundreds of
   * streams break at once when this master steps down or a network blip cuts the servers, and
   * dropping each with its volumes at once held the event loop for over half a second at 1,000
   * servers of 100 volumes, past the Raft election timeout and the servers' keepalive (bench:scale).
   * A server still listed for those few milliseconds is as if its break were noticed a little later.
   */
  private dropNode(node: DataNode, why: string, vanished: boolean): void {
    this.dropsPending.push({ node, why, vanished });
    if (this.closed) this.dropPending(Infinity);
    else this.dropTimer ??= setImmediate(() => this.dropPending(dropTurnBudgetMs));
  }

  /** Drops pending servers for up to `budgetMs`; the rest on the next turn of the event loop. */
  private dropPending(budgetMs: number): void {
    clearImmediate(this.dropTimer);
    this.dropTimer = undefined;
    const end = this.now() + budgetMs;
    let next: PendingDrop | undefined;
    while ((next = this.dropsPending.shift()) !== undefined) {
      const { node, why, vanished } = next;
      if (this.deps.topology.unregisterNode(node)) {
        this.deps.onNodeLeft?.(node, vanished);
        this.deps.logger.warn({ node: node.id, why }, "volume server left");
      }
      if (this.dropsPending.length > 0 && this.now() >= end) {
        this.dropTimer = setImmediate(() => this.dropPending(budgetMs));
        return;
      }
    }
  }

  private queueBeat(beat: PendingBeat): void {
    this.beatsPending.push(beat);
    this.beatTimer ??= setImmediate(() => this.applyPending());
  }

  /**
   * Applies queued beats for up to beatTurnBudgetMs (at least one; more while the loop spent longer
   * on I/O since the last turn, up to beatTurnBudgetMsMax), the rest on the next turn of the event
   * loop: I/O (assigns, Raft messages, more beats) is served between turns.
   */
  private applyPending(): void {
    this.beatTimer = undefined;
    const start = this.now();
    const budgetMs = Math.min(beatTurnBudgetMsMax, Math.max(beatTurnBudgetMs, start - this.beatTurnEndedAt));
    const end = start + budgetMs;
    const queue = this.beatsPending;
    while (this.beatsHead < queue.length) {
      const beat = queue[this.beatsHead]!;
      queue[this.beatsHead++] = undefined as unknown as PendingBeat;
      beat.apply();
      if (this.beatsHead < queue.length && this.now() >= end) break;
    }
    if (this.beatsHead >= queue.length) {
      this.beatsPending = [];
      this.beatsHead = 0;
    } else {
      this.noteLag(start - queue[this.beatsHead]!.arrivedAt);
      if (this.beatsHead > beatQueueCompactAt && this.beatsHead * 2 > queue.length) {
        this.beatsPending = queue.slice(this.beatsHead);
        this.beatsHead = 0;
      }
      if (!this.closed) this.beatTimer = setImmediate(() => this.applyPending());
    }
    this.beatTurnEndedAt = this.now();
  }

  private noteLag(lagMs: number): void {
    if (lagMs < beatLagWarnMs || !this.beatLagLog.shouldLog("lag")) return;
    this.deps.logger.warn(
      { lagMs: Math.round(lagMs), queued: this.beatsQueued },
      "heartbeats wait over a second to be applied: the leader is behind (said once a minute)",
    );
  }

  /** Heartbeats carry the truth of the data plane: ids and keys on disk raise the replicated floors. */
  private raiseFloors(maxVid: number, maxFileKey: bigint): void {
    const { state, sequencer, logger } = this.deps;
    if (maxVid > state.maxVolumeId) {
      state
        .raiseMaxVolumeId(maxVid)
        .catch((err: unknown) => logger.error({ err, maxVid }, "raising max volume id failed"));
    }
    if (maxFileKey > 0n) sequencer.observe(Number(maxFileKey));
  }
}

function noLeaderYet(): WeedError {
  return new WeedError(ErrorCode.NOT_LEADER, "no leader is elected yet");
}

function closingError(): WeedError {
  return new WeedError(ErrorCode.CLOSED, "master is closing");
}

function failStream(call: HeartbeatCall, err: unknown): void {
  const { code, details } = grpcStatusOf(err);
  // grpc-js turns an 'error' event carrying {code, details} into the call's final status.
  call.emit("error", Object.assign(new Error(details), { code, details }));
}

function sumCounts(counts: { [key: string]: number }): number {
  let n = 0;
  for (const v of Object.values(counts)) n += v;
  return n;
}

function peerHost(call: HeartbeatCall): string {
  const peer = call.getPeer().replace(/^ipv[46]:/, "");
  const colon = peer.lastIndexOf(":");
  const host = colon > 0 ? peer.slice(0, colon) : peer;
  return host.replace(/^\[(.*)\]$/, "$1");
}

function nodeSpecOf(call: HeartbeatCall, hb: Heartbeat): NodeSpec {
  if (hb.port === 0 || hb.port > 65535)
    throw new WeedError(ErrorCode.BAD_REQUEST, `heartbeat has invalid port ${hb.port}`);
  if (hb.grpcPort > 65535) throw new WeedError(ErrorCode.BAD_REQUEST, `heartbeat has invalid grpc_port ${hb.grpcPort}`);
  return {
    ip: hb.ip === "" ? peerHost(call) : hb.ip,
    port: hb.port,
    publicUrl: hb.publicUrl,
    grpcPort: hb.grpcPort === 0 ? hb.port + grpcPortOffset : hb.grpcPort,
    dataCenter: hb.dataCenter,
    rack: hb.rack,
    maxVolumes: sumCounts(hb.maxVolumeCounts),
  };
}

function fromVolumeInfo(v: VolumeInformationMessage): ReplicaInfo {
  return {
    id: v.id,
    collection: v.collection,
    replicaPlacement: v.replicaPlacement,
    ttl: v.ttl,
    size: Number(v.size),
    fileCount: Number(v.fileCount),
    deleteCount: Number(v.deleteCount),
    deletedByteCount: Number(v.deletedByteCount),
    readOnly: v.readOnly,
    version: v.version,
    compactRevision: v.compactRevision,
    modifiedAtSecond: Number(v.modifiedAtSecond),
    diskType: v.diskType,
    needsCheck: v.needsCheck,
  };
}

function fromShortInfo(v: VolumeShortInformationMessage): ReplicaInfo {
  return {
    id: v.id,
    collection: v.collection,
    replicaPlacement: v.replicaPlacement,
    ttl: v.ttl,
    size: 0,
    fileCount: 0,
    deleteCount: 0,
    deletedByteCount: 0,
    readOnly: false,
    version: v.version,
    compactRevision: 0,
    modifiedAtSecond: 0,
    diskType: v.diskType,
    needsCheck: false,
  };
}
