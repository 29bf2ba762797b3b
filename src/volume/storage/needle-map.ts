// The in-memory index of one volume: needle key (u64 as two u32) -> (offset / 8, body size).
// Open addressing with linear probing over one Uint32Array, 4 words per slot:
//   [keyHi, keyLo, offset, size]
// 16 bytes a slot and no objects, so a million needles cost ~21-25 MB and no GC work. Offset 0
// marks an empty slot: it is the superblock, never a needle. Deletes shift later entries back
// (no tombstones in the table), so lookups never slow down with churn.
import { assert, ErrorCode, WeedError } from "../../common/errors.js";
import { needleMapGrowthFactor, needleMapLoadMax, needleMapSlotsMax, needleMapSlotsMin } from "./limits.js";
import { compareKeys } from "./needle-key.js";

const WORDS = 4;
const TWO_POW_MINUS_32 = 2 ** -32;

/**
 * Home slot of a key: a murmur3-style mix of both halves (keys are mostly sequential), then
 * "fast range" (h * slots / 2^32) so the table need not be a power of two and can grow by 1.5x.
 * The float product is exact below 2^53 and off by < 256 above, far less than `slots`, so the
 * result is always in [0, slots).
 */
function homeSlot(hi: number, lo: number, slots: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.floor((h >>> 0) * slots * TWO_POW_MINUS_32);
}

function slotsFor(keys: number): number {
  const want = Math.ceil(keys / needleMapLoadMax) + 1;
  return Math.max(needleMapSlotsMin, want);
}

export class NeedleMap {
  private table: Uint32Array;
  private slots: number;
  private live = 0;
  private growAt: number;

  /** Put entries replayed or appended (SeaweedFS FileCounter). */
  fileCount = 0;
  fileBytes = 0;
  /** Entries dropped by a delete or an overwrite, and their body bytes (the garbage vacuum reclaims). */
  deleteCount = 0;
  deletedBytes = 0;
  /** Largest key ever seen, live or not: keys are never handed out twice. */
  maxKeyHi = 0;
  maxKeyLo = 0;

  /** `expectedKeys` pre-sizes the table (e.g. from the .idx length) so loading never rehashes. */
  constructor(expectedKeys = 0) {
    this.slots = slotsFor(expectedKeys);
    this.table = new Uint32Array(this.slots * WORDS);
    this.growAt = Math.floor(this.slots * needleMapLoadMax);
  }

  /** Live keys. */
  get count(): number {
    return this.live;
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    return this.table.byteLength;
  }

  /** The slot holding the key, or -1. Read it with offsetAt/sizeAt before any put or remove. */
  find(hi: number, lo: number): number {
    const t = this.table;
    const slots = this.slots;
    let i = homeSlot(hi, lo, slots);
    for (;;) {
      const b = i * WORDS;
      if (t[b + 2] === 0) return -1;
      if (t[b + 1] === lo && t[b] === hi) return i;
      if (++i === slots) i = 0;
    }
  }

  offsetAt(slot: number): number {
    return this.table[slot * WORDS + 2] ?? 0;
  }

  sizeAt(slot: number): number {
    return this.table[slot * WORDS + 3] ?? 0;
  }

  noteKey(hi: number, lo: number): void {
    if (compareKeys(hi, lo, this.maxKeyHi, this.maxKeyLo) > 0) {
      this.maxKeyHi = hi;
      this.maxKeyLo = lo;
    }
  }

  /** Inserts or replaces. Returns the replaced size, or -1 when the key was new. */
  put(hi: number, lo: number, offset: number, size: number): number {
    assert(offset > 0, "needle offset 0 is the superblock");
    this.noteKey(hi, lo);
    this.fileCount++;
    this.fileBytes += size;
    const t = this.table;
    const slots = this.slots;
    let i = homeSlot(hi, lo, slots);
    for (;;) {
      const b = i * WORDS;
      if (t[b + 2] === 0) break;
      if (t[b + 1] === lo && t[b] === hi) {
        const old = t[b + 3] ?? 0;
        t[b + 2] = offset;
        t[b + 3] = size;
        this.deleteCount++;
        this.deletedBytes += old;
        return old;
      }
      if (++i === slots) i = 0;
    }
    const b = i * WORDS;
    t[b] = hi;
    t[b + 1] = lo;
    t[b + 2] = offset;
    t[b + 3] = size;
    if (++this.live > this.growAt) this.grow();
    return -1;
  }

  /** Removes the key. Returns its size, or -1 when absent. */
  remove(hi: number, lo: number): number {
    this.noteKey(hi, lo);
    const slot = this.find(hi, lo);
    if (slot < 0) return -1;
    const old = this.sizeAt(slot);
    this.deleteCount++;
    this.deletedBytes += old;
    this.clearSlot(slot);
    this.live--;
    return old;
  }

  /** Calls `visit` for every live entry, in table order. */
  forEach(visit: (hi: number, lo: number, offset: number, size: number) => void): void {
    const t = this.table;
    for (let b = 0; b < t.length; b += WORDS) {
      const offset = t[b + 2] ?? 0;
      if (offset !== 0) visit(t[b] ?? 0, t[b + 1] ?? 0, offset, t[b + 3] ?? 0);
    }
  }

  /** Backward-shift deletion: pull later entries of the probe run into the hole when their home allows. */
  private clearSlot(hole: number): void {
    const t = this.table;
    const slots = this.slots;
    let i = hole;
    let j = hole;
    for (;;) {
      if (++j === slots) j = 0;
      const bj = j * WORDS;
      if (t[bj + 2] === 0) break;
      const home = homeSlot(t[bj] ?? 0, t[bj + 1] ?? 0, slots);
      // The entry at j may move to i only if its home is not cyclically within (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      t.copyWithin(i * WORDS, bj, bj + WORDS);
      i = j;
    }
    t.fill(0, i * WORDS, i * WORDS + WORDS);
  }

  private grow(): void {
    const next = Math.ceil(this.slots * needleMapGrowthFactor);
    if (next > needleMapSlotsMax) {
      throw new WeedError(ErrorCode.VOLUME_FULL, `needle map is full at ${this.live} keys (${this.slots} slots)`);
    }
    const old = this.table;
    const t = new Uint32Array(next * WORDS);
    for (let b = 0; b < old.length; b += WORDS) {
      const offset = old[b + 2] ?? 0;
      if (offset === 0) continue;
      const hi = old[b] ?? 0;
      const lo = old[b + 1] ?? 0;
      let i = homeSlot(hi, lo, next);
      while (t[i * WORDS + 2] !== 0) if (++i === next) i = 0;
      const nb = i * WORDS;
      t[nb] = hi;
      t[nb + 1] = lo;
      t[nb + 2] = offset;
      t[nb + 3] = old[b + 3] ?? 0;
    }
    this.table = t;
    this.slots = next;
    this.growAt = Math.floor(next * needleMapLoadMax);
  }
}
