// The cluster a volume server's -dir belongs to: the masters' cluster id (topologyId), learned
// from the first master that answers a heartbeat and kept in <dir>/cluster.id, so that the same
// disks pointed at another cluster's masters are refused (by the master, and noticed here) instead
// of merged into it. A fresh dir has no file and joins the first cluster it reaches.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const clusterIdFileName = "cluster.id";

/** Longest cluster id accepted from the file or a master (ours are 36-character UUIDs). */
const clusterIdLengthMax = 128;

export function clusterIdFileIn(dir: string): string {
  return join(dir, clusterIdFileName);
}

/** The id kept in `file`, "" when there is none (no file, empty, unreadable as text). */
export function readClusterId(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
  const id = text.trim();
  return validClusterId(id) ? id : "";
}

export function validClusterId(id: string): boolean {
  return id.length > 0 && id.length <= clusterIdLengthMax && /^[A-Za-z0-9._-]+$/.test(id);
}

/** Writes `id` to `file` atomically (a torn write must not leave half an id). */
export function writeClusterId(file: string, id: string): void {
  const dir = file.slice(0, file.lastIndexOf("/")) || ".";
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${id}\n`, { flush: true });
  renameSync(tmp, file);
}
