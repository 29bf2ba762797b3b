// Vacuum on the volume server (SeaweedFS: weed/server/volume_grpc_vacuum.go): the garbage ratio,
// compaction into .cpd/.cpx with progress streamed, commit and cleanup. Issue 13.
import type { ServiceImpl } from "../grpc/adapter.js";
import type { VolumeServer as VolumeServerService } from "../gen/volume_server_pb.js";
import { ErrorCode, WeedError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { CopyStore } from "./copy/copy-source.js";
import { failStream } from "./grpc-stream.js";

type VacuumMethods = "vacuumVolumeCheck" | "vacuumVolumeCompact" | "vacuumVolumeCommit" | "vacuumVolumeCleanup";

const notYet = (what: string): WeedError => new WeedError(ErrorCode.METHOD_NOT_ALLOWED, `${what}: not built yet`);

export function vacuumImpl(
  _store: CopyStore,
  _logger: Logger,
): Pick<ServiceImpl<typeof VolumeServerService>, VacuumMethods> {
  return {
    async vacuumVolumeCheck() {
      throw notYet("VacuumVolumeCheck");
    },
    vacuumVolumeCompact(call) {
      failStream(call, notYet("VacuumVolumeCompact"));
    },
    async vacuumVolumeCommit() {
      throw notYet("VacuumVolumeCommit");
    },
    async vacuumVolumeCleanup() {
      throw notYet("VacuumVolumeCleanup");
    },
  };
}
