// Checks a copied volume before it is renamed into place: the sizes the source named, a superblock
// of the right version, every needle record whole and its data matching its CRC32-C, and every
// .idx entry pointing at the start of a record. Async reads of a large window at a time, so a
// 30 GiB check never stalls the event loop for long.
import fs from "node:fs";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { idxEntryBytes, walkIdx } from "../storage/idx.js";
import { needleAlignBytes } from "../storage/limits.js";
import { decodeNeedle, headerSize, needleHeaderBytes, recordLength } from "../storage/needle.js";
import { decodeSuperBlockHeader, superBlockBytes } from "../storage/superblock.js";

/** Bytes of .dat read at once while checking. */
const verifyWindowBytes = 8 * 1024 * 1024;

export interface CopiedFiles {
  volumeId: number;
  datPath: string;
  idxPath: string;
  datBytes: number;
  idxBytes: number;
  version: number;
}

function bad(v: CopiedFiles, why: string): WeedError {
  return new WeedError(ErrorCode.CORRUPT, `copy of volume ${v.volumeId} is damaged: ${why}`);
}

/** Throws CORRUPT naming the first problem found. Returns the number of records checked. */
export async function verifyCopiedVolume(v: CopiedFiles): Promise<number> {
  const [dat, idx] = [fs.statSync(v.datPath).size, fs.statSync(v.idxPath).size];
  if (dat !== v.datBytes) throw bad(v, `.dat has ${dat} bytes, the source had ${v.datBytes}`);
  if (idx !== v.idxBytes) throw bad(v, `.idx has ${idx} bytes, the source had ${v.idxBytes}`);
  if (idx % idxEntryBytes !== 0) throw bad(v, `.idx size ${idx} is not a multiple of ${idxEntryBytes}`);
  const starts = await checkRecords(v);
  const fd = fs.openSync(v.idxPath, "r");
  try {
    walkIdx(fd, 0, idx / idxEntryBytes, (_hi, _lo, offset) => {
      if (offset !== 0 && !starts.has(offset)) throw bad(v, `an .idx entry points at ${offset * 8}, not a record`);
    });
  } finally {
    fs.closeSync(fd);
  }
  return starts.size;
}

/** Scans .dat record by record; returns the record starts in 8-byte units. */
async function checkRecords(v: CopiedFiles): Promise<Set<number>> {
  const fh = await fs.promises.open(v.datPath, "r");
  const starts = new Set<number>();
  try {
    const head = Buffer.alloc(superBlockBytes);
    await fh.read(head, 0, superBlockBytes, 0);
    const { sb, extraLength } = decodeSuperBlockHeader(head, `copy of volume ${v.volumeId}`);
    if (sb.version !== v.version) throw bad(v, `superblock version ${sb.version}, the source has ${v.version}`);
    let pos = superBlockBytes + extraLength;
    let buf = Buffer.allocUnsafe(verifyWindowBytes);
    let winStart = pos;
    let winLen = 0;
    while (pos < v.datBytes) {
      if (pos + needleHeaderBytes > v.datBytes) throw bad(v, `${v.datBytes - pos} stray bytes at the end of .dat`);
      if (pos + needleHeaderBytes > winStart + winLen) {
        ({ winStart, winLen } = await fill(fh, buf, pos, v.datBytes));
      }
      const size = headerSize(buf.subarray(pos - winStart));
      const len = recordLength(size, v.version);
      if (pos + len > v.datBytes) throw bad(v, `the record at ${pos} runs past the end of .dat`);
      if (pos + len > winStart + winLen) {
        if (len > buf.length) buf = Buffer.allocUnsafe(len);
        ({ winStart, winLen } = await fill(fh, buf, pos, v.datBytes));
      }
      try {
        decodeNeedle(buf.subarray(pos - winStart, pos - winStart + len), v.version);
      } catch (err) {
        throw bad(v, `record at ${pos}: ${err instanceof Error ? err.message : String(err)}`);
      }
      starts.add(pos / needleAlignBytes);
      pos += len;
    }
  } finally {
    await fh.close();
  }
  return starts;
}

async function fill(
  fh: fs.promises.FileHandle,
  buf: Buffer,
  pos: number,
  end: number,
): Promise<{ winStart: number; winLen: number }> {
  const want = Math.min(buf.length, end - pos);
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return { winStart: pos, winLen: got };
}
