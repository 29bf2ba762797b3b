// What the benchmark writes: every file's length and bytes are a function of its fid, so the read
// phase (or a later -readOnly run with the same -size) checks them without storing anything.
// The bytes are pseudo-random so the volume server has nothing to compress (SeaweedFS sends mime
// image/bench for the same reason).
import { filePaddingSpanBytes } from "./limits.js";

/** FNV-1a over the fid's characters (ASCII): a cheap, well-spread 32-bit seed. */
export function fidSeed(fid: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < fid.length; i++) {
    h ^= fid.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** -size plus 0..63 padding bytes, like SeaweedFS, but chosen by the fid instead of at random. */
export function contentLength(baseSize: number, seed: number): number {
  return baseSize + (seed % filePaddingSpanBytes);
}

/** xorshift32 must not start at 0. */
function firstState(seed: number): number {
  return seed === 0 ? 0x9e3779b9 : seed;
}

/**
 * A reusable buffer for one worker: content is generated into it word by word, and a request
 * sends a view of its first `length` bytes. Only one request per worker is in flight, so reuse
 * is safe once that request has settled.
 */
export class ContentBuffer {
  private readonly words: Uint32Array;
  private readonly bytes: Buffer;

  constructor(capacityBytes: number) {
    const ab = new ArrayBuffer(Math.ceil(capacityBytes / 4) * 4 || 4);
    this.words = new Uint32Array(ab);
    this.bytes = Buffer.from(ab);
  }

  /** Fills the content for `seed` and returns a view of its first `length` bytes. */
  fill(seed: number, length: number): Buffer {
    const words = this.words;
    const wordCount = Math.ceil(length / 4);
    let x = firstState(seed);
    for (let i = 0; i < wordCount; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    return this.bytes.subarray(0, length);
  }

  /** True when `got` is exactly the content for `seed`. */
  matches(seed: number, got: Uint8Array): boolean {
    const want = this.fill(seed, got.length);
    return want.equals(got);
  }
}
