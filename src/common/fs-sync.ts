// Synchronous directory fsync: after a create, rename or unlink, the entry itself survives a power
// loss only once its directory is synced (the file's own fsync does not cover its name).
import fs from "node:fs";

export function syncDirSync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
