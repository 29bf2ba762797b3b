// Checks of raw needle records moved between replicas (ReadNeedleBlob, WriteNeedleBlob): what
// crosses the disk boundary is checked before it is sent and again before it is appended.
import { ErrorCode, WeedError } from "../../common/errors.js";
import { isLiveSize } from "./idx.js";
import { needleAlignBytes } from "./limits.js";
import { keyHex, keyHi, keyLo } from "./needle-key.js";
import { decodeNeedle, headerKeyHi, headerKeyLo, headerSize, recordLength } from "./needle.js";

/** The length of the record at `offset` of a .dat that ends at `datEnd`; BAD_PARAM if it cannot be one. */
export function blobLength(offset: number, size: number, version: number, datEnd: number): number {
  if (!Number.isSafeInteger(offset) || offset < needleAlignBytes || offset % needleAlignBytes !== 0) {
    throw new WeedError(ErrorCode.BAD_PARAM, `needle offset ${offset} is not an aligned record offset`);
  }
  if (!Number.isInteger(size) || !isLiveSize(size)) {
    throw new WeedError(ErrorCode.BAD_PARAM, `needle size ${size} is not the size of a live needle`);
  }
  const length = recordLength(size, version);
  if (offset + length > datEnd) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `a ${length}-byte record at ${offset} runs past the volume's end ${datEnd}`,
    );
  }
  return length;
}

/**
 * A record to append as-is: exactly one record of this volume's version, for `key`, with body
 * `size` (a put, never a tombstone), whose fields and CRC check. Throws BAD_PARAM or CORRUPT.
 */
export function checkNeedleBlob(blob: Buffer, key: bigint, size: number, version: number): void {
  if (!Number.isInteger(size) || !isLiveSize(size)) {
    throw new WeedError(ErrorCode.BAD_PARAM, `needle size ${size} is not the size of a live needle`);
  }
  const length = recordLength(size, version);
  if (blob.length !== length) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `needle blob of ${blob.length} bytes: a version ${version} record of size ${size} has ${length}`,
    );
  }
  const hi = keyHi(key);
  const lo = keyLo(key);
  if (headerKeyHi(blob) !== hi || headerKeyLo(blob) !== lo || headerSize(blob) !== size) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `needle blob holds key ${keyHex(headerKeyHi(blob), headerKeyLo(blob))} size ${headerSize(blob)}, ` +
        `not ${keyHex(hi, lo)} size ${size}`,
    );
  }
  decodeNeedle(blob, version); // CORRUPT on a bad CRC or field
}
