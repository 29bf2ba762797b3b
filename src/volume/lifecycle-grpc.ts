// volume.mark and /col/delete on the volume server (SeaweedFS: weed/server/volume_grpc_admin.go):
// VolumeMarkReadonly, VolumeMarkWritable, DeleteCollection. Issue 13.
import type { ServiceImpl } from "../grpc/adapter.js";
import type { VolumeServer as VolumeServerService } from "../gen/volume_server_pb.js";
import { ErrorCode, WeedError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { CopyStore } from "./copy/copy-source.js";

type LifecycleMethods = "volumeMarkReadonly" | "volumeMarkWritable" | "deleteCollection";

const notYet = (what: string): WeedError => new WeedError(ErrorCode.METHOD_NOT_ALLOWED, `${what}: not built yet`);

export function markAndCollectionImpl(
  _store: CopyStore,
  _logger: Logger,
): Pick<ServiceImpl<typeof VolumeServerService>, LifecycleMethods> {
  return {
    async volumeMarkReadonly() {
      throw notYet("VolumeMarkReadonly");
    },
    async volumeMarkWritable() {
      throw notYet("VolumeMarkWritable");
    },
    async deleteCollection() {
      throw notYet("DeleteCollection");
    },
  };
}
