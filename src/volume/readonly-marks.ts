// volume.mark -readonly kept across restarts: <collection>_<id>.vif beside the volume's .dat, with
// SeaweedFS's field `{"readOnly":true}` (SeaweedFS keeps it in the volume's .vif, volume_info.go
// PersistReadOnly). Kept out of storage, which knows nothing of it: the volume server applies the
// marks after the store opens, and removes a volume's mark when the store deletes the volume, so a
// volume of the same id copied here later does not come up read-only. Writes are atomic (temporary
// file, fsync, rename, directory fsync): a crash leaves the old mark or the new one.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../common/logger.js";
import type { VolumeInfo } from "./storage/store-api.js";
import { volumeBaseName } from "./storage/volume.js";
import { syncDirSync } from "../common/fs-sync.js";

/** "<collection>_<vid>.vif" or "<vid>.vif", as .dat files are named. */
const VIF_NAME = /^(?:(.+)_)?(\d{1,10})\.vif$/;

export function readOnlyMarkPath(dir: string, collection: string, volumeId: number): string {
  return path.join(dir, `${volumeBaseName(collection, volumeId)}.vif`);
}

/** Writes (readOnly) or removes (not) the volume's mark. */
export function persistReadOnly(dir: string, v: Pick<VolumeInfo, "id" | "collection">, readOnly: boolean): void {
  const file = readOnlyMarkPath(dir, v.collection, v.id);
  if (!readOnly) {
    try {
      fs.unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    syncDirSync(dir);
    return;
  }
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify({ readOnly: true }) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDirSync(dir);
}

/** Whether the mark file says read-only (a torn or foreign file: no). */
function saysReadOnly(file: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { readOnly?: unknown }).readOnly === true;
  } catch {
    return false;
  }
}

/** The store's part: which volumes it holds, and marking one read-only. */
export interface MarkableStore {
  readonly dir: string;
  hasVolume(volumeId: number): boolean;
  setReadOnly(volumeId: number, readOnly: boolean): VolumeInfo;
}

/**
 * After the store opened: every volume with a mark is read-only again; marks of volumes no longer
 * here (deleted while this server was down, or by hand) are removed. Returns the ids marked.
 */
export function applyReadOnlyMarks(store: MarkableStore, log: Logger): number[] {
  const marked: number[] = [];
  for (const name of fs.readdirSync(store.dir)) {
    const m = VIF_NAME.exec(name);
    if (m === null) continue;
    const id = Number(m[2]);
    const file = path.join(store.dir, name);
    if (!store.hasVolume(id)) {
      persistReadOnly(store.dir, { id, collection: m[1] ?? "" }, false);
      log.info({ volumeId: id, file }, "read-only mark of a volume not held here removed");
    } else if (saysReadOnly(file)) {
      store.setReadOnly(id, true);
      marked.push(id);
    }
  }
  if (marked.length > 0) log.info({ volumeIds: marked }, "volumes marked read-only (volume.mark) are read-only again");
  return marked;
}
