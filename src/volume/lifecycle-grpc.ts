// volume.mark and /col/delete on the volume server (SeaweedFS: weed/server/volume_grpc_admin.go):
// VolumeMarkReadonly, VolumeMarkWritable, DeleteCollection. Issue 13.
//
// A mark takes effect at once here (a write to the volume is refused with VOLUME_READ_ONLY, reads
// go on); the master hears of it within volumeStateCheckIntervalMs (volume-state-watch.ts). With
// `persist` (the shell always asks for it) the mark survives a restart (readonly-marks.ts);
// VolumeMarkWritable removes it, as SeaweedFS's MarkVolumeWritable persists false.
import type { ServiceImpl } from "../grpc/adapter.js";
import type { VolumeServer as VolumeServerService } from "../gen/volume_server_pb.js";
import { ErrorCode, WeedError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { CopyStore } from "./copy/copy-source.js";
import type { VolumeInfo } from "./storage/store-api.js";
import { persistReadOnly } from "./readonly-marks.js";

type LifecycleMethods = "volumeMarkReadonly" | "volumeMarkWritable" | "deleteCollection";

function mark(store: CopyStore, volumeId: number, readOnly: boolean, persist: boolean): VolumeInfo {
  const info = store.setReadOnly(volumeId, readOnly);
  if (persist) persistReadOnly(store.dir, info, readOnly);
  return info;
}

/** Deletes every volume of `collection` held here; returns their ids. */
async function deleteCollection(store: CopyStore, collection: string, logger: Logger): Promise<number[]> {
  if (collection === "")
    throw new WeedError(ErrorCode.BAD_PARAM, "collection name required (the default collection is not deleted whole)");
  const ids = store
    .volumeInfos()
    .filter((v) => v.collection === collection)
    .map((v) => v.id);
  for (const id of ids) {
    // A volume deleted meanwhile (volume.delete, TTL expiry) is already what was asked.
    if (store.hasVolume(id)) await store.deleteVolume(id);
  }
  logger.info({ collection, volumeIds: ids }, "collection deleted");
  return ids;
}

export function markAndCollectionImpl(
  store: CopyStore,
  logger: Logger,
): Pick<ServiceImpl<typeof VolumeServerService>, LifecycleMethods> {
  return {
    async volumeMarkReadonly(req) {
      mark(store, req.volumeId, true, req.persist);
      logger.info({ volumeId: req.volumeId, persist: req.persist }, "volume marked read-only");
      return {};
    },
    async volumeMarkWritable(req) {
      mark(store, req.volumeId, false, true);
      logger.info({ volumeId: req.volumeId }, "volume marked writable");
      return {};
    },
    async deleteCollection(req) {
      await deleteCollection(store, req.collection, logger);
      return {};
    },
  };
}
