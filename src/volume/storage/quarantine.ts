// Nothing is cut off a volume file without a copy: before recovery truncates a .dat or .idx, the
// bytes it removes are written to a quarantine file beside it and fsync'd, with its directory
// entry, so an operator (or a better recovery) can still read them. FORMAT.md "Quarantine".
import fs from "node:fs";
import path from "node:path";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { readFully, writeFully } from "./idx.js";
import { datScanChunkBytes } from "./limits.js";
import { syncDirSync } from "../../common/fs-sync.js";

/**
 * Copies of one cut at the same offset: `<file>.quarantine-<offset>`, then `.1`, `.2`... Each
 * needs its own crash that tore the file at that very offset after the previous load repaired it;
 * this many in a row means something keeps breaking the volume, and the load stops (nothing is
 * overwritten) until an operator looks.
 */
export const quarantineCopiesPerOffsetMax = 100;

/** The name of the n-th copy of bytes cut from `file` at `offset`. */
export function quarantineName(file: string, offset: number, n: number): string {
  return n === 0 ? `${file}.quarantine-${offset}` : `${file}.quarantine-${offset}.${n}`;
}

/**
 * Truncates the open `fd` (the file `file`, `oldLength` bytes) to `newLength`, after copying the
 * bytes [newLength, oldLength) to a new quarantine file and syncing it and the directory. Returns
 * the quarantine file's path. Throws IO (and leaves `file` untouched) when the copy cannot be made.
 */
export function truncateWithCopy(fd: number, file: string, newLength: number, oldLength: number): string {
  const copy = writeQuarantine(fd, file, newLength, oldLength);
  try {
    fs.ftruncateSync(fd, newLength);
  } catch (err) {
    throw ioError(`truncating ${file} to ${newLength} bytes`, err);
  }
  return copy;
}

function writeQuarantine(fd: number, file: string, from: number, to: number): string {
  for (let n = 0; n < quarantineCopiesPerOffsetMax; n++) {
    const name = quarantineName(file, from, n);
    let out: number;
    try {
      out = fs.openSync(name, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw ioError(`creating ${name}`, err);
    }
    try {
      copyRange(fd, out, from, to);
      fs.fsyncSync(out);
    } catch (err) {
      fs.closeSync(out);
      fs.rmSync(name, { force: true });
      throw ioError(`writing ${name}`, err);
    }
    fs.closeSync(out);
    syncDirSync(path.dirname(name));
    return name;
  }
  throw new WeedError(
    ErrorCode.IO,
    `${file}: ${quarantineCopiesPerOffsetMax} quarantine files for offset ${from} exist already; not cutting again`,
  );
}

/** Copies [from, to) of `src` to the start of `dst`, datScanChunkBytes at a time. */
function copyRange(src: number, dst: number, from: number, to: number): void {
  const buf = Buffer.allocUnsafe(Math.min(datScanChunkBytes, to - from));
  for (let at = from; at < to;) {
    const want = Math.min(buf.length, to - at);
    const got = readFully(src, buf, want, at);
    if (got < want) throw new Error(`file ended at ${at + got}, expected ${to} bytes`);
    writeFully(dst, buf.subarray(0, got), at - from);
    at += got;
  }
}

function ioError(what: string, err: unknown): WeedError {
  const msg = err instanceof Error ? err.message : String(err);
  return new WeedError(ErrorCode.IO, `${what}: ${msg}`, { cause: err });
}
