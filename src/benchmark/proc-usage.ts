// CPU time and resident memory of a process, read from Linux's /proc (the scale bench samples the
// leader with them). CPU is utime + stime of /proc/<pid>/stat in clock ticks; Linux's USER_HZ is 100
// on every architecture Node runs on, so a tick is 10 ms.
import { readFileSync } from "node:fs";

/** Linux's USER_HZ: /proc reports CPU times in 1/100 s whatever the kernel's own HZ. */
const procTicksPerSecond = 100;

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Resident set size in bytes (VmRSS). */
  rssBytes: number;
}

/** The process's CPU seconds and RSS now; throws when it is gone (no /proc/<pid>). */
export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name (index 11, 12).
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return { cpuSeconds: ticks / procTicksPerSecond, rssBytes: rss === null ? 0 : Number(rss[1]) * 1024 };
}

/** Share of one core (100 = one core busy) used between two samples `wallSeconds` apart. */
export function cpuPercent(before: ProcSample, after: ProcSample, wallSeconds: number): number {
  return wallSeconds <= 0 ? 0 : (100 * (after.cpuSeconds - before.cpuSeconds)) / wallSeconds;
}
