// A bounded cache of small needles as read and checked from disk (CRC32-C and every field, by
// decodeNeedle), shared by the volumes of a store. A GET of a small needle otherwise costs one
// pread (~7 us on a virtualised machine, more than the rest of the read) and a decode with its
// CRC; a hit costs a map lookup. SeaweedFS has no such cache; Haystack's paper has one for the
// same reason.
//
// An entry is used only while the volume's needle map still points at the same offset and size,
// so a write, a delete or a vacuum that moved the needle misses even without being told; they
// drop their entries too (Volume.write/delete/writeNeedleBlob, the vacuum commit, close), so no
// stale record is held. Eviction is first in, first out under a byte bound: cheap, and the hot
// needles come back at their next read.
import type { DecodedNeedle } from "./needle.js";

/** What an entry costs beyond its record's bytes (the objects, the map slot), counted against the bound. */
const entryOverheadBytes = 256;

class Entry {
  next: Entry | undefined = undefined;
  live = true;
  constructor(
    readonly owner: VolumeNeedleCache,
    readonly hi: number,
    readonly lo: number,
    readonly offset: number,
    readonly size: number,
    readonly needle: DecodedNeedle,
    readonly bytes: number,
  ) {}
}

export class NeedleCache {
  /** Bytes of every queued entry, live or dropped (a dropped one is freed when it leaves the queue). */
  #bytes = 0;
  #head: Entry | undefined;
  #tail: Entry | undefined;

  /**
   * `bytesMax`: the bound on the cached records' bytes (0 = no cache); `recordBytesMax`: only
   * records up to this size are kept (a large read costs its copy, not the syscall).
   */
  constructor(
    readonly bytesMax: number,
    readonly recordBytesMax: number,
  ) {}

  get enabled(): boolean {
    return this.bytesMax > 0;
  }

  /** Bytes held now (dropped entries included until they leave the queue). */
  get bytes(): number {
    return this.#bytes;
  }

  /** A cache of one volume's needles, sharing this bound. */
  forVolume(): VolumeNeedleCache {
    return new VolumeNeedleCache(this);
  }

  /** Whether a record of `recordBytes` would be kept. */
  keeps(recordBytes: number): boolean {
    return recordBytes <= this.recordBytesMax && recordBytes + entryOverheadBytes <= this.bytesMax;
  }

  /** @internal queues a new entry and evicts the oldest ones over the bound. */
  add(e: Entry): void {
    this.#bytes += e.bytes;
    if (this.#tail === undefined) this.#head = e;
    else this.#tail.next = e;
    this.#tail = e;
    while (this.#bytes > this.bytesMax && this.#head !== undefined) {
      const old = this.#head;
      this.#head = old.next;
      if (this.#head === undefined) this.#tail = undefined;
      this.#bytes -= old.bytes;
      if (old.live) old.owner.evicted(old);
    }
  }
}

/** One volume's entries, keyed by the low 32 bits of the needle key (the high ones are checked). */
export class VolumeNeedleCache {
  readonly #cache: NeedleCache;
  #map = new Map<number, Entry>();

  constructor(cache: NeedleCache) {
    this.#cache = cache;
  }

  /** The cached needle `hi:lo` when it is still the record at `offset` with `size`, else undefined. */
  get(hi: number, lo: number, offset: number, size: number): DecodedNeedle | undefined {
    const e = this.#map.get(lo);
    if (e === undefined || e.hi !== hi || e.offset !== offset || e.size !== size) return undefined;
    return e.needle;
  }

  /** Keeps `needle`, decoded and checked from the `recordBytes` at `offset`, when it is small enough. */
  put(hi: number, lo: number, offset: number, size: number, needle: DecodedNeedle, recordBytes: number): void {
    if (!this.#cache.keeps(recordBytes)) return;
    this.#kill(this.#map.get(lo));
    const e = new Entry(this, hi, lo, offset, size, needle, recordBytes + entryOverheadBytes);
    this.#map.set(lo, e);
    this.#cache.add(e);
  }

  /** The needle was overwritten or deleted. */
  drop(hi: number, lo: number): void {
    const e = this.#map.get(lo);
    if (e !== undefined && e.hi === hi) this.#kill(e);
  }

  /** Every entry (the files were swapped by a vacuum, or the volume closed). */
  clear(): void {
    for (const e of this.#map.values()) e.live = false;
    this.#map = new Map();
  }

  /** @internal the shared queue let `e` go. */
  evicted(e: Entry): void {
    e.live = false;
    if (this.#map.get(e.lo) === e) this.#map.delete(e.lo);
  }

  #kill(e: Entry | undefined): void {
    if (e === undefined) return;
    e.live = false;
    this.#map.delete(e.lo);
  }
}
