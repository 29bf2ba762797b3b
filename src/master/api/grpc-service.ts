// The Seaweed gRPC service of the master. As in SeaweedFS, Assign reports "cannot assign now"
// (no free slots, growth in progress, warming up) in AssignResponse.error and keeps gRPC status
// errors for malformed requests; LookupVolume reports per id.
import type * as grpc from "@grpc/grpc-js";
import type { ServiceImpl } from "../../grpc/adapter.js";
import { FORWARDED_HEADER } from "./leader-forwarder.js";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type {
  Seaweed,
  Heartbeat,
  AssignRequest as AssignRequestPb,
  LookupVolumeRequest,
  RaftAddServerRequest,
  RaftLeadershipTransferRequest,
  RaftRemoveServerRequest,
} from "../../gen/master_pb.js";
import type { Logger } from "../../common/logger.js";
import { parseAssignParams } from "./assign-params.js";
import type { Assigner, AssignRequest } from "../topology/assigner.js";
import type { HeartbeatService } from "./heartbeat-service.js";
import { decodeHeartbeat } from "./heartbeat-decode.js";
import { lookupVolume } from "../topology/lookup.js";
import type { MasterMetrics } from "./metrics.js";
import type { Topology } from "../topology/topology.js";
import { assignCountMax } from "../limits.js";
import type { ClusterView } from "../state/cluster-view.js";
import type { LeaderGrpcClients } from "./leader-grpc.js";
import type { MembershipAnswer, HandedOff, MembershipManager } from "../state/membership.js";
import type { FidTokens } from "../../common/security/jwt.js";
import type { AdminCredential } from "../../common/security/admin-credential.js";
import { checkAdminCall, type AdminCheckedCall } from "../../grpc/admin-call.js";

export interface SeaweedServiceDeps {
  cluster: ClusterView;
  /** Calls the leader's service: a follower passes Assign and LookupVolume on. */
  leaderCalls: LeaderGrpcClients;
  assigner: Assigner;
  topology: Topology;
  heartbeats: HeartbeatService;
  metrics: MasterMetrics;
  logger: Logger;
  defaultReplication: string;
  membership: MembershipManager;
  /** security.toml's [jwt.signing]: Assign and LookupVolume of a fid answer a write token in `auth`. */
  fidTokens?: FidTokens;
  /** [jwt.admin] key: membership changes need an admin token in the call's metadata. */
  admin?: AdminCredential | undefined;
}

/** Errors that mean "not now" rather than "bad request": answered in AssignResponse.error. */
const IN_BAND: ReadonlySet<string> = new Set([
  ErrorCode.NO_FREE_SLOT,
  ErrorCode.NO_WRITABLE_VOLUME,
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
  ErrorCode.BAD_REQUEST,
]);

function toAssignRequest(req: AssignRequestPb, defaultReplication: string): AssignRequest {
  if (req.count > BigInt(assignCountMax))
    throw new WeedError(ErrorCode.BAD_PARAM, `invalid count ${req.count}: over the limit of ${assignCountMax}`);
  return parseAssignParams(
    {
      count: req.count === 0n ? undefined : String(req.count),
      replication: req.replication,
      collection: req.collection,
      ttl: req.ttl,
      dataCenter: req.dataCenter,
      rack: req.rack,
      dataNode: req.dataNode,
      writableVolumeCount: req.writableVolumeCount === 0 ? undefined : String(req.writableVolumeCount),
      memoryMapMaxSizeMb: req.memoryMapMaxSizeMb === 0 ? undefined : String(req.memoryMapMaxSizeMb),
      disk: req.diskType,
    },
    defaultReplication,
  );
}

/** The masters that passed a call on, from its metadata. */
function visitedOf(md: grpc.Metadata): string[] {
  return md
    .get(FORWARDED_HEADER)
    .flatMap((v) => String(v).split(","))
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** Assign as the leader answers it: "cannot assign now" in the answer's error, as SeaweedFS. */
function assignHandler(deps: SeaweedServiceDeps) {
  const { assigner, metrics } = deps;
  return async (req: AssignRequestPb) => {
    const started = performance.now();
    const params = toAssignRequest(req, deps.defaultReplication);
    try {
      const r = await assigner.assign(params);
      metrics.assignDone(true, (performance.now() - started) / 1000);
      const [first, ...rest] = r.nodes;
      // With count > 1 the token is for the first fid, as SeaweedFS (it covers fid_1, fid_2...).
      const auth = (await deps.fidTokens?.write?.sign(r.fid)) ?? "";
      const replicas = rest.map((n) => n.location);
      return { fid: r.fid, count: BigInt(r.count), location: first!.location, replicas, auth };
    } catch (err) {
      metrics.assignDone(false, (performance.now() - started) / 1000);
      if (err instanceof WeedError && IN_BAND.has(err.code)) return { error: err.message };
      throw err;
    }
  };
}

/**
 * LookupVolume as the leader answers it (a follower has no topology: never an empty answer). A
 * file id found gets a write token in `auth` when [jwt.signing] is set (SeaweedFS: the write key
 * always here; a read token comes from HTTP /dir/lookup?read=yes).
 */
function lookupHandler(topology: Topology, fidTokens: FidTokens | undefined) {
  const key = fidTokens?.write;
  return async (req: LookupVolumeRequest) => ({
    volumeIdLocations: await Promise.all(
      req.volumeOrFileIds.map(async (id) => {
        const r = lookupVolume(topology, id, req.collection);
        if (!r.ok) return { volumeOrFileId: id, error: r.error };
        const auth = key !== undefined && id.includes(",") ? await key.sign(id) : "";
        return { volumeOrFileId: id, locations: r.nodes.map((n) => n.location), auth };
      }),
    ),
  });
}

/** The Raft membership calls as the leader answers them. */
function membershipHandlers(deps: SeaweedServiceDeps) {
  const addServer = async (req: RaftAddServerRequest) => ({
    warning: (await deps.membership.add(req.id, { voter: req.voter })).warning ?? "",
  });
  const removeServer = async (req: RaftRemoveServerRequest): Promise<{ warning: string }> => {
    const r: MembershipAnswer | HandedOff = await deps.membership.remove(req.id);
    // The leader removing itself handed over first; the new leader does the removal.
    if (!("handedOffTo" in r)) return { warning: r.warning ?? "" };
    return deps.leaderCalls.call(
      (c, opts) => c.raftRemoveServer(req, opts),
      () => removeServer(req),
    );
  };
  const transfer = async (req: RaftLeadershipTransferRequest) => {
    const previousLeader = deps.cluster.self;
    const r = await deps.membership.transfer(req.targetId);
    return { previousLeader, newLeader: r.leader ?? "" };
  };
  return { addServer, removeServer, transfer };
}

export function seaweedService(deps: SeaweedServiceDeps): ServiceImpl<typeof Seaweed> {
  type Remote = Parameters<LeaderGrpcClients["call"]>[0];
  type Client = Parameters<Remote>[0];
  type Opts = Parameters<Remote>[1];
  /** The leader answers `local`; a follower passes the call on (or answers it, once it leads). */
  const leaderOnly =
    <Req, Res, Local>(remote: (c: Client, req: Req, opts: Opts) => Promise<Res>, local: (req: Req) => Promise<Local>) =>
    (req: Req, call: { metadata: grpc.Metadata }): Promise<Res | Local> =>
      deps.cluster.isLeader()
        ? local(req)
        : deps.leaderCalls.call<Res | Local>(
            (c, opts) => remote(c, req, opts),
            () => local(req),
            visitedOf(call.metadata),
          );
  const { addServer, removeServer, transfer } = membershipHandlers(deps);
  /** Checked at the master the client reached (admin-call.ts); a forwarded call is signed anew. */
  const adminOnly =
    <Req, Res>(fn: (req: Req, call: { metadata: grpc.Metadata }) => Promise<Res>) =>
    async (req: Req, call: AdminCheckedCall): Promise<Res> => {
      if (deps.admin !== undefined) await checkAdminCall(deps.admin, call);
      return fn(req, call);
    };
  return {
    sendHeartbeat: deps.heartbeats.handle,
    assign: leaderOnly((c, req, o) => c.assign(req, o), assignHandler(deps)),
    lookupVolume: leaderOnly((c, req, o) => c.lookupVolume(req, o), lookupHandler(deps.topology, deps.fidTokens)),
    // Any master answers from its own view of the group.
    async raftListClusterServers() {
      const leader = deps.cluster.leader();
      return {
        clusterServers: deps.cluster.members().map((m) => ({
          id: m.id,
          address: m.id,
          suffrage: m.role === "learner" ? "Nonvoter" : "Voter",
          isLeader: m.id === leader,
        })),
      };
    },
    raftAddServer: adminOnly(leaderOnly((c, req, o) => c.raftAddServer(req, o), addServer)),
    raftRemoveServer: adminOnly(leaderOnly((c, req, o) => c.raftRemoveServer(req, o), removeServer)),
    raftLeadershipTransfer: adminOnly(leaderOnly((c, req, o) => c.raftLeadershipTransfer(req, o), transfer)),
  };
}

/**
 * Request decoders to use instead of protobuf-es's generic fromBinary, by method: a leader decodes a
 * Heartbeat from every volume server every pulse, and the hand-written decoder (heartbeat-decode.ts)
 * takes ~1/12 of fromBinary's time on a beat of 100 volumes. For the gRPC adapter's registration of
 * the Seaweed service.
 */
export const seaweedRequestDecoders: { readonly sendHeartbeat: (bytes: Uint8Array) => Heartbeat } = {
  sendHeartbeat: decodeHeartbeat,
};
