// Named crash points in vacuum (compact and commit) and before an .idx flush, for the kill -9
// tests: a process started with WEEDTS_CRASH_AT=<name> in its environment SIGKILLs itself when
// it reaches that point, so a test can stop it at an exact step and check what a restart
// recovers. Unit tests install a hook that throws instead (the files are left as a crash would
// leave them; the test then loads them anew).
//
// The variable is read here, once, rather than passed from src/cli like every other setting: it is
// a fault injector for tests, not configuration, and must reach storage code without a flag an
// operator could set by mistake. Unset (always, outside these tests) it costs one comparison.
//
// The points, in the order a vacuum reaches them (FORMAT.md, "Vacuum"):
//   vacuum.compact.midCopy        .cpd/.cpx partly written (after the first chunk of live needles)
//   vacuum.compact.beforeSync     every live needle copied, .cpd/.cpx not fsync'd yet
//   vacuum.compact.done           .cpd/.cpx complete and synced, before Compact answers
//   vacuum.commit.afterCatchUp    writes made during compaction replayed, appends not held yet
//   vacuum.commit.beforeMarker    appends held, everything replayed and synced, no .cpc yet
//   vacuum.commit.afterMarker     .cpc written and synced, nothing renamed
//   vacuum.commit.afterRenameDat  .cpd renamed to .dat, .cpx not renamed yet
//   vacuum.commit.afterRenameIdx  both renamed (directory synced), memory still on the old files
//   vacuum.commit.afterSwap       new files in use, appends running again, .cpc not removed yet

export const crashPointNames = [
  "vacuum.compact.midCopy",
  "vacuum.compact.beforeSync",
  "vacuum.compact.done",
  "vacuum.commit.afterCatchUp",
  "vacuum.commit.beforeMarker",
  "vacuum.commit.afterMarker",
  "vacuum.commit.afterRenameDat",
  "vacuum.commit.afterRenameIdx",
  "vacuum.commit.afterSwap",
] as const;

/**
 * Not a vacuum step: appends answered, their .idx entries queued and about to be written
 * (Volume.flushIdx). A kill here leaves records in .dat that the .idx does not name yet.
 */
export const idxFlushCrashPoint = "idx.beforeFlush";

export type CrashPoint = (typeof crashPointNames)[number] | typeof idxFlushCrashPoint;

/** The environment variable naming the point to die at. */
export const crashAtEnvName = "WEEDTS_CRASH_AT";

/**
 * After SIGKILL to itself, the process blocks this long rather than run on: the signal is
 * delivered at once on Linux, so this only guards against a platform that delivers it late.
 */
const crashBlockMs = 10_000;

const armed: string | undefined = process.env[crashAtEnvName];

type CrashHook = (point: CrashPoint) => void;

function killSelf(point: CrashPoint): void {
  if (armed !== point) return;
  process.kill(process.pid, "SIGKILL");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, crashBlockMs);
}

let hook: CrashHook = killSelf;

/** Reached a named point: dies there if WEEDTS_CRASH_AT names it (or runs the test hook). */
export function crashPoint(point: CrashPoint): void {
  if (armed === undefined && hook === killSelf) return;
  hook(point);
}

/** Unit tests: run `h` at every crash point instead (undefined restores the default). */
export function setCrashHook(h: CrashHook | undefined): void {
  hook = h ?? killSelf;
}
