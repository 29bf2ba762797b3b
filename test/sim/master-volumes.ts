// Simulated volume servers for the master simulation (master-sim.ts): the data plane a leading
// master's Topology is rebuilt from. The servers are shared by every master incarnation of a run
// (they outlive leaders, as real ones do); each master that believes it leads hears their
// heartbeats (full reports: its volumes with their sizes, the largest file key it holds) and
// raises its replicated floors from them as heartbeat-service.ts does. Growth reaches them through
// SimAllocator, the VolumeAllocator seam, which creates a volume after a simulated latency (or
// fails, so growth's undo runs too). A server never holds two volumes of one id: an allocation of
// an id a server already holds is a volume id handed out twice.
import { ErrorCode, WeedError } from "../../src/common/errors.js";
import type { DataNode, NodeSpec, ReplicaInfo } from "../../src/master/topology/data-node.js";
import type { Topology } from "../../src/master/topology/topology.js";
import type { AllocateRequest, VolumeAllocator } from "../../src/master/topology/volume-allocator.js";
import { parseReplicaPlacement, replicaPlacementToByte } from "../../src/common/replica-placement.js";
import { SafetyViolation } from "../../src/raft/sim/checkers.js";
import type { SimScheduler } from "../../src/raft/sim/clock.js";
import { simTickMs } from "../../src/raft/sim/options.js";
import type { Prng } from "../../src/raft/sim/prng.js";

/** Bytes an assigned key's upload adds to its volume (so volumes fill and growth runs again). */
export const uploadBytes = 1024;

export interface VolumeWorldOptions {
  readonly servers: number;
  /** Volumes a server can hold. */
  readonly maxVolumes: number;
  /** Simulated AllocateVolume latency, in ticks (0: in the same instant). */
  readonly allocateTicksMax: number;
  /** Per allocation: the server refuses it (disk full, ...). */
  readonly allocateFailRate: number;
}

export class SimVolumeServer {
  readonly spec: NodeSpec;
  readonly id: string;
  readonly volumes = new Map<number, ReplicaInfo>();
  /** The largest file key uploaded to any of its volumes. */
  maxKey = 0;

  constructor(index: number, maxVolumes: number) {
    this.spec = {
      ip: `10.0.0.${index + 1}`,
      port: 8080,
      publicUrl: `10.0.0.${index + 1}:8080`,
      grpcPort: 18080,
      dataCenter: "dc1",
      rack: `rack${(index % 2) + 1}`,
      maxVolumes,
    };
    this.id = `${this.spec.ip}:${this.spec.port}`;
  }

  /** An upload of `count` keys from `first` to volume `vid` (the client's write after an assign). */
  upload(vid: number, first: number, count: number): void {
    const v = this.volumes.get(vid);
    if (v === undefined) return;
    this.volumes.set(vid, { ...v, size: v.size + count * uploadBytes, fileCount: v.fileCount + count });
    this.maxKey = Math.max(this.maxKey, first + count - 1);
  }
}

/** What a heartbeat raises on the master it reaches (heartbeat-service.ts raiseFloors). */
export interface HeartbeatSink {
  readonly topology: Topology;
  raiseMaxVolumeId(maxVid: number): void;
  observeKey(maxKey: number): void;
}

export class VolumeWorld {
  readonly servers: SimVolumeServer[];
  private readonly byId = new Map<string, SimVolumeServer>();
  /** Volume id -> the servers asked to create it, in order (who asked is in `owner`). */
  private readonly owner = new Map<number, string>();
  allocations = 0;
  allocationsRefused = 0;

  constructor(readonly o: VolumeWorldOptions) {
    this.servers = Array.from({ length: o.servers }, (_, i) => new SimVolumeServer(i, o.maxVolumes));
    for (const s of this.servers) this.byId.set(s.id, s);
  }

  server(id: string): SimVolumeServer | undefined {
    return this.byId.get(id);
  }

  /** A full heartbeat from `server` to a master: register, sync volumes, raise the floors. */
  heartbeat(server: SimVolumeServer, to: HeartbeatSink): void {
    const { topology } = to;
    const node = topology.node(server.id) ?? topology.registerNode(server.spec);
    topology.syncVolumes(node, [...server.volumes.values()]);
    let maxVid = 0;
    for (const vid of server.volumes.keys()) maxVid = Math.max(maxVid, vid);
    if (maxVid > 0) to.raiseMaxVolumeId(maxVid);
    if (server.maxKey > 0) to.observeKey(server.maxKey);
  }

  /** Creates volume `req.volumeId` on `server`; `who` asked (a master, for the violation's message). */
  create(server: SimVolumeServer, req: AllocateRequest, who: string): void {
    const earlier = this.owner.get(req.volumeId);
    if (server.volumes.has(req.volumeId) || (earlier !== undefined && earlier !== who))
      throw new SafetyViolation(
        "unique volume ids",
        `volume ${req.volumeId} allocated on ${server.id} by ${who}, and before by ${earlier ?? "?"}`,
      );
    this.owner.set(req.volumeId, who);
    this.allocations++;
    server.volumes.set(req.volumeId, replica(req));
  }
}

/** What GrpcVolumeAllocator answers for a call its signal ended: TIMEOUT for a timeout, else UNAVAILABLE. */
function aborted(what: string, signal: AbortSignal): WeedError {
  const timedOut = signal.reason instanceof DOMException && signal.reason.name === "TimeoutError";
  return new WeedError(timedOut ? ErrorCode.TIMEOUT : ErrorCode.UNAVAILABLE, `${what} failed: aborted`, {
    cause: signal.reason,
  });
}

function replica(req: AllocateRequest): ReplicaInfo {
  return {
    id: req.volumeId,
    collection: req.collection,
    replicaPlacement: replicaPlacementToByte(parseReplicaPlacement(req.replication)),
    ttl: 0,
    size: 0,
    fileCount: 0,
    deleteCount: 0,
    deletedByteCount: 0,
    readOnly: false,
    version: 3,
    compactRevision: 0,
    modifiedAtSecond: 0,
    diskType: req.diskType,
    needsCheck: false,
  };
}

/**
 * One master incarnation's AllocateVolume calls. The server acts after the latency on the run's
 * scheduler (it does so even if the master crashed meanwhile); the answer reaches the master then.
 */
export class SimAllocator implements VolumeAllocator {
  constructor(
    private readonly world: VolumeWorld,
    /** The run's scheduler and random source (asked late: the first masters start inside the cluster's constructor). */
    private readonly env: () => { readonly sched: SimScheduler; readonly prng: Prng },
    /** "n2 (term 5)": the master asking, as the checker names it. */
    private readonly who: () => string,
    /** Records a violation found on the scheduler's stack (a throw there would end the run badly). */
    private readonly fail: (err: unknown) => void,
  ) {}

  allocate(node: DataNode, req: AllocateRequest, signal: AbortSignal): Promise<void> {
    const server = this.world.server(node.id);
    const { sched, prng } = this.env();
    const refuse = prng.chance(this.world.o.allocateFailRate);
    const who = this.who();
    const ms = prng.range(0, this.world.o.allocateTicksMax) * simTickMs;
    return new Promise<void>((resolve, reject) => {
      sched.after(ms, () => {
        if (server === undefined || refuse) {
          this.world.allocationsRefused++;
          reject(new WeedError(ErrorCode.NO_FREE_SLOT, `${node.id} refused volume ${req.volumeId}`));
          return;
        }
        try {
          this.world.create(server, req, who);
        } catch (err) {
          this.fail(err);
          reject(err as Error);
          return;
        }
        // The volume exists now; an answer the master stopped waiting for is lost (as on a network).
        if (signal.aborted) reject(aborted(`allocate volume ${req.volumeId} on ${node.id}`, signal));
        else resolve();
      });
    });
  }

  remove(node: DataNode, volumeId: number, _signal: AbortSignal): Promise<void> {
    this.world.server(node.id)?.volumes.delete(volumeId);
    return Promise.resolve();
  }

  forget(_node: DataNode): void {}

  close(): void {}
}
