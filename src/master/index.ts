// The master's public surface.
export { MasterServer, MASTER_VERSION, type MasterConfig } from "./master-server.js";
export type { ClusterState, KeyBlock } from "./state/cluster-state.js";
export { Sequencer, type SequencerOptions } from "./state/sequencer.js";
export { Topology, type SyncResult } from "./topology/topology.js";
export {
  DataCenter,
  DataNode,
  Rack,
  DEFAULT_DATA_CENTER,
  DEFAULT_RACK,
  type LocationJson,
  type NodeSpec,
  type ReplicaInfo,
} from "./topology/data-node.js";
export { VolumeLayout, type Random } from "./topology/volume-layout.js";
export { pickNodesForVolume, NO_PREFS, type PlacementPrefs } from "./topology/placement.js";
export {
  VolumeGrowth,
  type GrowthSpec,
  type VolumeGrowthDeps,
  type VolumeGrowthOptions,
} from "./topology/volume-growth.js";
export { GrpcVolumeAllocator, type AllocateRequest, type VolumeAllocator } from "./topology/volume-allocator.js";
export { Assigner, type AssignRequest, type AssignResult } from "./topology/assigner.js";
export { parseAssignParams, rawParamsOf, type RawAssignParams } from "./api/assign-params.js";
export { HeartbeatService, type HeartbeatServiceDeps } from "./api/heartbeat-service.js";
export { seaweedService, type SeaweedServiceDeps } from "./api/grpc-service.js";
export { MasterHttpHandlers, type HttpHandlerDeps } from "./api/http-handlers.js";
export { MasterMetrics } from "./api/metrics.js";
export { formatFidNumber, CookieSource } from "./topology/fid-maker.js";
