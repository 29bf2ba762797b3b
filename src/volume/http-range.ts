// HTTP Range requests (RFC 9110 §14) for a body of known size, pure: no I/O, no headers written.
// Semantics follow SeaweedFS (weed/server/common.go ProcessRangeRequest, on top of Go's
// http.ServeContent): ranges beyond the end are clamped, a header whose ranges sum to more than
// the body is ignored (no amplification), nothing satisfiable is 416.
import { rangesMax } from "./limits.js";

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export type RangeResult =
  /** Serve the whole body with 200 (no Range, a unit other than bytes, malformed, or ignored). */
  | { kind: "full" }
  /** 416 with Content-Range: bytes * /size. */
  | { kind: "unsatisfiable" }
  /** 206: one range in Content-Range, several as multipart/byteranges. */
  | { kind: "partial"; ranges: ByteRange[] };

const FULL: RangeResult = Object.freeze({ kind: "full" });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: "unsatisfiable" });

/** Non-negative decimal integer, or -1 when `s` is not one (or not a safe integer). */
function parseUint(s: string): number {
  if (s.length === 0 || s.length > 15) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return Number(s);
}

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return FULL;
  if (!header.startsWith("bytes=")) return FULL;
  // An empty body has no satisfiable range, but refusing it breaks clients that always send one.
  if (size === 0) return FULL;
  const specs = header.slice(6).split(",");
  if (specs.length > rangesMax) return FULL;
  const ranges: ByteRange[] = [];
  let total = 0;
  for (const raw of specs) {
    const spec = raw.trim();
    const dash = spec.indexOf("-");
    if (dash < 0) return FULL;
    const first = spec.slice(0, dash);
    const last = spec.slice(dash + 1);
    let start: number;
    let end: number;
    if (first === "") {
      // Suffix range "-n": the last n bytes.
      const n = parseUint(last);
      if (n < 0) return FULL;
      if (n === 0) continue;
      start = Math.max(0, size - n);
      end = size - 1;
    } else {
      start = parseUint(first);
      if (start < 0) return FULL;
      if (last === "") {
        end = size - 1;
      } else {
        end = parseUint(last);
        if (end < 0 || end < start) return FULL;
        end = Math.min(end, size - 1);
      }
      if (start >= size) continue;
    }
    total += end - start + 1;
    ranges.push({ start, end });
  }
  if (ranges.length === 0) return UNSATISFIABLE;
  if (total > size) return FULL;
  return { kind: "partial", ranges };
}

export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.end}/${size}`;
}
