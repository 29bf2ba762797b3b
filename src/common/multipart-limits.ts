// Bounds of the upload reader (multipart.ts), shared by the master's /submit and the volume
// server so that both answer the same body the same way. The file size limit itself stays each
// server's own (the volume's -fileSizeLimitMB, the master's submitBytesMax). Units last.
//
// The per-item bounds below cap what one part or field may cost; multipartOverheadBytesMax caps
// their sum, so memory stays at most the file limit plus that, whatever the mix.

/**
 * Bytes a multipart body may carry beyond the file limit: boundaries, part headers and form
 * fields. A browser or curl form with a few parameters uses well under 4 KiB of it.
 */
export const multipartOverheadBytesMax = 64 * 1024;

/** Parts in one multipart upload: one is the file and a few are fields; each costs a parser pass. */
export const multipartPartsMax = 64;

/** Form fields (parts without a filename) kept: /submit reads a handful of parameters from them. */
export const multipartFieldsMax = 32;

/** Bytes of one form field's value: parameters such as collection, ttl and replication are short. */
export const multipartFieldBytesMax = 4 * 1024;

/** Header lines per part (Node allows 2000 for a request; a part needs a handful). */
export const multipartPartHeaderPairsMax = 32;

/**
 * Bytes of one part's header block; more is dropped by the parser, not refused. A filename* of
 * 255 UTF-8 bytes percent-encoded is under 1 KiB.
 */
export const multipartPartHeaderBytesMax = 8 * 1024;

/**
 * Characters of a multipart boundary. RFC 2046 allows 70; some clients pad theirs, and the
 * parser searches for "\r\n--" + boundary, which it caps at 256.
 */
export const multipartBoundaryCharsMax = 200;
