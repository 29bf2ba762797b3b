// Bounds of volume copies (VolumeCopy, CopyFile, ReadVolumeFileStatus), units last, in one place.

/**
 * One CopyFile message carries this much file content: large enough that per-message costs vanish
 * at 100+ MB/s, well under grpc-js's 4 MiB receive limit (SeaweedFS sends 2 MiB: BufferSizeLimit).
 */
export const copyChunkBytes = 1024 * 1024;
/**
 * The HTTP/2 flow-control window the copying server (the receiver of CopyFile) opens, per stream
 * and per connection. grpc-js's default is 64 KiB: a 1 MiB message then needs 16 WINDOW_UPDATE
 * round trips through both event loops, and a copy ran at ~70 MB/s on loopback, both ends mostly
 * idle. 16 chunks in flight keep the source sending while the target writes; the memory is bounded
 * by it (copiesInFlightMax copies x this).
 */
export const copyFlowControlWindowBytes = 16 * copyChunkBytes;
/** A whole .dat (32 GiB: the 4-byte offset limit) is the most one CopyFile may ask for. */
export const copyFileBytesMax = 32 * 1024 * 1024 * 1024;
/**
 * A CopyFile stream that delivers nothing for this long is given up (a source that hangs, a cut
 * link): an idle bound, not a total one, so a 30 GiB volume may take as long as it needs.
 */
export const copyIdleTimeoutMs = 15_000;
/** ReadVolumeFileStatus and other unary calls to the source. */
export const copyStatusTimeoutMs = 5_000;
/**
 * Catch-up passes after the first copy (each copies what the source appended during the previous
 * one). Passes shrink geometrically while the copy is faster than the writes; a volume written
 * faster than it can be copied is mounted after this many, and the rest is for volume.check.disk.
 */
export const copyCatchUpRoundsMax = 8;
/** A VolumeCopy reports progress at most every this many bytes. */
export const copyProgressBytes = 64 * 1024 * 1024;
/** Copies into one server at once; more are refused (UNAVAILABLE), the shell retries later. */
export const copiesInFlightMax = 4;
