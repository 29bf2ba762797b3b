// A small real filesystem for disk-full tests: a tmpfs of a few MiB mounted on a fresh directory.
// Mounting needs root (CI runs as root); a test calls skipUnlessRoot first and says why it skips.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { tempDir } from "../../helpers.js";

const run = promisify(execFile);

/** Why a tmpfs test cannot run here, or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `needs Linux to mount a tmpfs (platform ${process.platform})`;
  if (process.getuid?.() !== 0) return "needs root to mount a tmpfs (run as root, as CI does)";
  return undefined;
}

export interface Tmpfs {
  /** The mount point. */
  readonly dir: string;
  /** Unmounts and removes the mount point; calling it again does nothing. */
  remove(): Promise<void>;
}

/** A tmpfs of `bytes` (rounded up to whole pages by the kernel) mounted on a new directory. */
export async function mountTmpfs(bytes: number, prefix = "weed-tmpfs-"): Promise<Tmpfs> {
  const base = await tempDir(prefix);
  const dir = path.join(base.dir, "mnt");
  fs.mkdirSync(dir);
  await run("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  let removed = false;
  return {
    dir,
    async remove() {
      if (removed) return;
      removed = true;
      try {
        await run("umount", [dir]);
      } finally {
        await base.remove();
      }
    },
  };
}

/** Writes zeros into `file` until the filesystem has fewer than `leaveBytes` free (whole 4 KiB pages). */
export function fillUntil(file: string, dir: string, leaveBytes: number): void {
  const s = fs.statfsSync(dir);
  const free = s.bavail * s.bsize;
  const bytes = Math.max(0, free - leaveBytes);
  fs.writeFileSync(file, Buffer.alloc(bytes));
}

/** Free bytes of the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}
