// Free space of the disk under a store's directory, and the -minFreeSpace rule that retires its
// volumes (read-only) while the disk is nearly full. SeaweedFS: weed/util/minfreespace.go (the
// rule and its parsing), weed/storage/disk_location.go CheckDiskSpace (a statfs per location, the
// low flag that makes every volume there read-only while it holds).
import fs from "node:fs";
import { ErrorCode, WeedError } from "../../common/errors.js";

/** "1" or "1%" (percent of the filesystem), or "10GiB", "500MB" (bytes). */
export type MinFreeSpace =
  { kind: "percent"; percent: number; text: string } | { kind: "bytes"; bytes: number; text: string };

export interface DiskUsage {
  /** Bytes this process may still write (statfs f_bavail * f_bsize). */
  freeBytes: number;
  /** Size of the filesystem (f_blocks * f_bsize). */
  totalBytes: number;
}

/** Byte units as SeaweedFS's util.ParseBytes reads them: SI for "kb", "mb"...; IEC for "kib", "mib"... */
const UNIT_BYTES: ReadonlyMap<string, number> = new Map([
  ["", 1],
  ["b", 1],
  ["k", 1e3],
  ["kb", 1e3],
  ["ki", 2 ** 10],
  ["kib", 2 ** 10],
  ["m", 1e6],
  ["mb", 1e6],
  ["mi", 2 ** 20],
  ["mib", 2 ** 20],
  ["g", 1e9],
  ["gb", 1e9],
  ["gi", 2 ** 30],
  ["gib", 2 ** 30],
  ["t", 1e12],
  ["tb", 1e12],
  ["ti", 2 ** 40],
  ["tib", 2 ** 40],
]);

/** SeaweedFS refuses a byte count this small: it is surely a percentage written with a unit by mistake. */
const minFreeBytesMin = 101;

function badMinFreeSpace(text: string, why: string): WeedError {
  return new WeedError(ErrorCode.BAD_PARAM, `min free space ${JSON.stringify(text)}: ${why}`);
}

/**
 * SeaweedFS's ParseMinFreeSpace: a bare number is a percentage 0..100 ("1" = 1 %); a number with a
 * byte unit is bytes ("10GiB", "500MB", "2 mib"), more than 100. "1%" is read as 1 percent too.
 */
export function parseMinFreeSpace(text: string): MinFreeSpace {
  const s = text.trim();
  const pct = /^(\d+(?:\.\d*)?|\.\d+)\s*%?$/.exec(s);
  if (pct !== null) {
    const percent = Number(pct[1]);
    if (percent > 100) throw badMinFreeSpace(text, "a percentage must be 0..100 (bytes need a unit, like 10GiB)");
    return { kind: "percent", percent, text: s };
  }
  const m = /^(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)$/.exec(s);
  const unit = m === null ? undefined : UNIT_BYTES.get(m[2]!.toLowerCase());
  if (m === null || unit === undefined) {
    throw badMinFreeSpace(text, "expected a percentage like 1 or 1%, or bytes like 10GiB or 500MB");
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < minFreeBytesMin) throw badMinFreeSpace(text, `a byte count must be at least ${minFreeBytesMin}`);
  if (!Number.isSafeInteger(bytes)) throw badMinFreeSpace(text, "too large");
  return { kind: "bytes", bytes, text: s };
}

/** The disk is below the rule (SeaweedFS MinFreeSpace.IsLow: strictly less than the minimum). */
export function isDiskLow(rule: MinFreeSpace, usage: DiskUsage): boolean {
  if (rule.kind === "bytes") return usage.freeBytes < rule.bytes;
  if (usage.totalBytes <= 0) return false;
  return (usage.freeBytes / usage.totalBytes) * 100 < rule.percent;
}

/** "disk free 1.2 MiB (15.00%) < required 2 MiB": the words logs and refusals use. */
export function describeDisk(rule: MinFreeSpace, usage: DiskUsage): string {
  const pct = usage.totalBytes > 0 ? (usage.freeBytes / usage.totalBytes) * 100 : 100;
  const op = isDiskLow(rule, usage) ? "<" : ">=";
  const required = rule.kind === "percent" ? `${rule.percent}%` : rule.text;
  return `disk free ${usage.freeBytes} bytes (${pct.toFixed(2)}%) ${op} required ${required} (-minFreeSpace)`;
}

/** statfs of `dir`. */
export async function diskUsageOf(dir: string): Promise<DiskUsage> {
  const s = await fs.promises.statfs(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

/** A write failed because the filesystem (or the user's quota) is full. */
export function isNoSpaceError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}
