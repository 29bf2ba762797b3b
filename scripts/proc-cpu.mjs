// CPU a process has used so far, from /proc/<pid>/stat (Linux): the benchmarks' CPU per request or
// per commit, which on a shared machine drifts less than requests per second.
import { readFileSync } from "node:fs";

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat on Linux. */
const CLOCK_TICKS_PER_S = 100;

/**
 * User and system CPU seconds of `pid` (all its threads) so far; NaN for both off Linux or once the
 * process is gone. utime and stime are fields 14 and 15 of stat(5), counted after the command name,
 * which may itself hold spaces and parentheses (hence the last ")").
 */
export function cpuTimes(pid) {
  return statSeconds(pid, 11);
}

/**
 * User and system CPU seconds of this process's children that have exited and been waited for
 * (cutime and cstime, fields 16 and 17): what a benchmark's finished child processes used.
 */
export function reapedChildrenCpuTimes() {
  return statSeconds("self", 13);
}

/** Fields `at` and `at + 1` (counted after the command name) of /proc/<pid>/stat, in seconds. */
function statSeconds(pid, at) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[at]) / CLOCK_TICKS_PER_S, sys: Number(fields[at + 1]) / CLOCK_TICKS_PER_S };
  } catch {
    return { user: Number.NaN, sys: Number.NaN };
  }
}
