// The second half of a vacuum (SeaweedFS: volume_vacuum.go CommitCompact, makeupDiff,
// writeCompactCommitMarker, finishCompactSwap, reconcileCompactState): the old .idx entries
// appended since compaction started are replayed into the compacted files (each put's record and
// each tombstone copied from the old .dat), both files are synced, a commit marker <base>.cpc is
// written, .cpd is renamed over .dat and .cpx over .idx, and the marker removed. The marker decides:
// a start-up that finds it rolls the renames forward, one that does not finds .cpd/.cpx left over
// from a compaction that was never committed and removes them (settleCompaction). See FORMAT.md,
// "Vacuum".
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { writeAt, type CompactedFiles } from "./compact.js";
import { crashPoint } from "./crash-points.js";
import {
  idxEntryBytes,
  isLiveSize,
  readFully,
  TOMBSTONE_FILE_SIZE,
  walkIdx,
  writeFully,
  writeIdxEntry,
} from "./idx.js";
import { commitReplayChunkBytes, commitReplayChunkEntries, needleAlignBytes } from "./limits.js";
import { headerKeyHi, headerKeyLo, headerSize, recordLength } from "./needle.js";
import { keyHex } from "./needle-key.js";
import { syncDirSync } from "../../common/fs-sync.js";

const fsRead = promisify(fs.read);

/**
 * A record up to this size is copied with synchronous I/O (a page-cache copy); a larger one on the
 * thread pool, so that replaying a 256 MB upload never stalls the event loop (as appendSyncBytesMax).
 */
const replaySyncBytesMax = 1024 * 1024;

/** The files of one vacuum beside <base>.dat. */
export interface VacuumPaths {
  dat: string;
  idx: string;
  cpd: string;
  cpx: string;
  /** The commit marker: present from "decided" until both renames are done. */
  cpc: string;
}

export function vacuumPaths(datPath: string, idxPath: string): VacuumPaths {
  const base = datPath.slice(0, -".dat".length);
  return { dat: datPath, idx: idxPath, cpd: `${base}.cpd`, cpx: `${base}.cpx`, cpc: `${base}.cpc` };
}

/** The old volume's files the replay reads. */
export interface ReplaySource {
  idxFd: number;
  datFd: number;
  version: number;
}

/**
 * Copies old .idx entries [from, to) into the compacted files: each put's record and each
 * tombstone is appended to the .cpd, its entry (with the new offset) to the .cpx, and the map
 * follows, so the result is what a load of the .cpx builds. Yields to the event loop after every
 * commitReplayChunkEntries entries or commitReplayChunkBytes of records (reads go on meanwhile,
 * also while the commit holds appends).
 */
export async function replayEntries(src: ReplaySource, out: CompactedFiles, from: number, to: number): Promise<void> {
  let copied = 0;
  for (let chunk = from; chunk < to; chunk += commitReplayChunkEntries) {
    const end = Math.min(to, chunk + commitReplayChunkEntries);
    const entries: [number, number, number, number][] = [];
    walkIdx(src.idxFd, chunk, end, (hi, lo, offset, size) => entries.push([hi, lo, offset, size]));
    if (entries.length !== end - chunk) {
      throw new WeedError(ErrorCode.CORRUPT, `the .idx ends at entry ${chunk + entries.length}, before ${end}`);
    }
    for (const [hi, lo, offset, size] of entries) {
      copied += await replayOne(src, out, hi, lo, offset, size);
      if (copied >= commitReplayChunkBytes) {
        copied = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Replays one entry; returns the bytes of record copied. */
async function replayOne(
  src: ReplaySource,
  out: CompactedFiles,
  hi: number,
  lo: number,
  offset: number,
  size: number,
): Promise<number> {
  const live = isLiveSize(size);
  if (live && offset === 0) return 0; // a put at the superblock: the load ignores it too
  let newOffset = 0;
  let len = 0;
  if (offset !== 0) {
    len = recordLength(live ? size : 0, src.version);
    const record = Buffer.allocUnsafe(len);
    const at = offset * needleAlignBytes;
    const got = len <= replaySyncBytesMax ? readFully(src.datFd, record, len, at) : await readAsync(src, record, at);
    const bodySize = live ? size : 0;
    if (got < len || headerKeyHi(record) !== hi || headerKeyLo(record) !== lo || headerSize(record) !== bodySize) {
      throw new WeedError(
        ErrorCode.CORRUPT,
        `replaying ${keyHex(hi, lo)}: the record at ${at} is not the one its .idx entry names; commit abandoned`,
      );
    }
    newOffset = out.cpdEnd;
    if (len <= replaySyncBytesMax) writeFully(out.cpdFd, record, newOffset);
    else await writeAt(out.cpdFd, record, newOffset);
    out.cpdEnd += len;
  }
  const entry = Buffer.allocUnsafe(idxEntryBytes);
  writeIdxEntry(entry, 0, hi, lo, newOffset / needleAlignBytes, live ? size : TOMBSTONE_FILE_SIZE);
  writeFully(out.cpxFd, entry, out.cpxEnd);
  out.cpxEnd += idxEntryBytes;
  if (live) out.map.put(hi, lo, newOffset / needleAlignBytes, size);
  else out.map.remove(hi, lo);
  return len;
}

async function readAsync(src: ReplaySource, buf: Buffer, at: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fsRead(src.datFd, buf, done, buf.length - done, at + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Writes and syncs the commit marker (and the directory): from here on the new files win. */
export async function writeCommitMarker(p: VacuumPaths, revision: number): Promise<void> {
  const fd = fs.openSync(p.cpc, "w");
  try {
    writeFully(fd, Buffer.from(`compaction revision ${revision}\n`), 0);
    await promisify(fs.fsync)(fd);
  } finally {
    fs.closeSync(fd);
  }
  await syncDir(path.dirname(p.cpc));
}

/** Renames .cpd over .dat and .cpx over .idx, in that order, then syncs the directory. */
export async function renameCompacted(p: VacuumPaths): Promise<void> {
  fs.renameSync(p.cpd, p.dat);
  crashPoint("vacuum.commit.afterRenameDat");
  fs.renameSync(p.cpx, p.idx);
  await syncDir(path.dirname(p.dat));
  crashPoint("vacuum.commit.afterRenameIdx");
}

/** Removes the marker once the renamed files are in use (and syncs the directory). */
export async function removeCommitMarker(p: VacuumPaths): Promise<void> {
  fs.rmSync(p.cpc, { force: true });
  await syncDir(path.dirname(p.cpc));
}

/** Removes a .cpd/.cpx that will not be committed (never the marker: a decided commit needs them). */
export function removeUncommitted(p: VacuumPaths): void {
  if (fs.existsSync(p.cpc)) {
    throw new WeedError(ErrorCode.CONFLICT, `${p.cpc} exists: a commit is decided, its files are not removed`);
  }
  for (const file of [p.cpd, p.cpx]) fs.rmSync(file, { force: true });
}

export type Settled = "none" | "rolled-forward" | "discarded";

/**
 * Start-up, before the volume's files are opened: finishes a commit a crash interrupted (marker
 * present: rename what is still to be renamed, then remove the marker) or removes the leftovers of
 * a compaction that was never committed (no marker). A marker with a .cpd but no .cpx cannot come
 * from our order of renames (.cpd first): the volume is refused rather than paired with a stale
 * .idx.
 */
export function settleCompaction(p: VacuumPaths, log: Logger): Settled {
  const has = (file: string): boolean => fs.existsSync(file);
  if (!has(p.cpc)) {
    if (!has(p.cpd) && !has(p.cpx)) return "none";
    for (const file of [p.cpd, p.cpx]) fs.rmSync(file, { force: true });
    syncDirSync(path.dirname(p.dat));
    log.warn({ cpd: p.cpd }, "vacuum: removed a compaction that was never committed; the volume is as before it");
    return "discarded";
  }
  if (has(p.cpd) && !has(p.cpx)) {
    throw new WeedError(
      ErrorCode.CORRUPT,
      `${p.cpc} and ${p.cpd} exist but ${p.cpx} does not: not pairing a compacted .dat with the old .idx`,
    );
  }
  if (has(p.cpd)) fs.renameSync(p.cpd, p.dat);
  if (has(p.cpx)) fs.renameSync(p.cpx, p.idx);
  syncDirSync(path.dirname(p.dat));
  fs.rmSync(p.cpc, { force: true });
  syncDirSync(path.dirname(p.dat));
  log.warn({ dat: p.dat }, "vacuum: finished a commit a crash interrupted; the volume is the compacted one");
  return "rolled-forward";
}

/** fsync a directory so a created, renamed or removed name survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fd = fs.openSync(dir, "r");
  try {
    await promisify(fs.fsync)(fd);
  } finally {
    fs.closeSync(fd);
  }
}
