// Large upload bodies are read into buffers that are used again by later uploads. A fresh buffer
// costs a page fault per 4 KiB page on first touch, on the event loop while the body is copied
// in: ~0.7 s for 250 MB on a small VM (~12 us a fault), against ~15 ms into pages already mapped.
// A buffer comes back only once its upload is written (nothing holds it then). The pool is bounded
// in bytes, let go of when no idle buffer fits the next body, and emptied when uploads stop, so
// memory afterwards falls back (at the next GC).
import { assert } from "../common/errors.js";

export interface UploadBuffersOptions {
  /** Bytes the pool keeps at most (buffers in use not counted). */
  pooledBytesMax: number;
  /** Bodies smaller than this are allocated as usual (Node's small-buffer pool serves them well). */
  pooledBytesMin: number;
  /** The pool is emptied after this long without a take. */
  idleMs: number;
}

/**
 * A pooled buffer serves a body of at least this fraction of its size: a 256 MB buffer never
 * holds a 1 MB body while a larger one waits for a fresh buffer.
 */
const pooledFillMin = 0.5;

export class UploadBuffers {
  readonly #o: UploadBuffersOptions;
  /** Idle buffers' memory, whole (a taken one is a view of its first bytes). */
  readonly #pool: ArrayBuffer[] = [];
  /** Memory this pool allocated: only that is ever taken back (never a socket's or a parser's). */
  readonly #ours = new WeakSet<ArrayBuffer>();
  #pooledBytes = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: UploadBuffersOptions) {
    assert(o.pooledBytesMin > 0 && o.pooledBytesMax >= 0 && o.idleMs > 0, "upload buffer pool bounds");
    this.#o = o;
  }

  get pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** A buffer of `bytes` (contents undefined): a pooled one when one fits, else a fresh one. */
  take(bytes: number): Buffer {
    if (bytes < this.#o.pooledBytesMin) return Buffer.allocUnsafe(bytes);
    this.#armIdle();
    let best = -1;
    for (let i = 0; i < this.#pool.length; i++) {
      const size = this.#pool[i]!.byteLength;
      if (size < bytes || bytes < size * pooledFillMin) continue;
      if (best < 0 || size < this.#pool[best]!.byteLength) best = i;
    }
    if (best < 0) {
      // None fits: the idle ones go, so that idle plus in-use memory stays within what is in flight.
      this.#drop();
      const fresh = Buffer.allocUnsafeSlow(bytes);
      this.#ours.add(fresh.buffer as ArrayBuffer);
      return fresh;
    }
    const [ab] = this.#pool.splice(best, 1);
    this.#pooledBytes -= ab!.byteLength;
    return Buffer.from(ab!, 0, bytes);
  }

  /** Gives back a buffer from take() that nothing reads or writes any more. */
  give(buf: Buffer): void {
    // A small body's buffer never came from the pool (take): no lookup of its memory per upload.
    if (buf.length < this.#o.pooledBytesMin) return;
    const ab = buf.buffer;
    if (this.#closed || !(ab instanceof ArrayBuffer) || !this.#ours.has(ab) || this.#pool.includes(ab)) return;
    if (this.#pooledBytes + ab.byteLength > this.#o.pooledBytesMax) return;
    this.#pool.push(ab);
    this.#pooledBytes += ab.byteLength;
  }

  /** Empties the pool and stops its timer. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#drop();
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#drop(), this.#o.idleMs);
    this.#idleTimer.unref();
  }

  #drop(): void {
    this.#pool.length = 0;
    this.#pooledBytes = 0;
  }
}
