// The master's public surface.
export { MasterServer, MASTER_VERSION, type MasterConfig } from "./master-server.js";
export { LevelClusterState, type ClusterState, type KeyBlock } from "./cluster-state.js";
export { Sequencer, type SequencerOptions } from "./sequencer.js";
export { Topology, type SyncResult } from "./topology.js";
export {
  DataCenter,
  DataNode,
  Rack,
  DEFAULT_DATA_CENTER,
  DEFAULT_RACK,
  type LocationJson,
  type NodeSpec,
  type ReplicaInfo,
} from "./data-node.js";
export { VolumeLayout, type Random } from "./volume-layout.js";
export { pickNodesForVolume, NO_PREFS, type PlacementPrefs } from "./placement.js";
export { VolumeGrowth, type GrowthSpec, type VolumeGrowthDeps, type VolumeGrowthOptions } from "./volume-growth.js";
export { GrpcVolumeAllocator, type AllocateRequest, type VolumeAllocator } from "./volume-allocator.js";
export { Assigner, type AssignRequest, type AssignResult } from "./assigner.js";
export { parseAssignParams, rawParamsOf, type RawAssignParams } from "./assign-params.js";
export { HeartbeatService, type HeartbeatServiceDeps } from "./heartbeat-service.js";
export { seaweedService, type SeaweedServiceDeps } from "./grpc-service.js";
export { MasterHttpHandlers, type HttpHandlerDeps } from "./http-handlers.js";
export { MasterMetrics } from "./metrics.js";
export { formatFidNumber, CookieSource } from "./fid-maker.js";
