// Small appends gathered over one turn of the event loop, written to the .dat by one pwritev at
// its end (Volume.write and writeSoon). Under load the uploads whose bodies ended in the same
// turn share that syscall, and the syscall is most of a small PUT's cost here: with 16 clients a
// turn gathered ~11 uploads, and a bare node:http server batching its appends this way answered
// 38-41k PUTs/s against 25-30k writing each on its own (bench-blob's "barebatch" ceiling).
//
// A batch holds its records in file order, each at the offset it will have: the volume keeps
// every other append, and every reader of the map, behind the batch's write (Volume.flushAppends).
// Nothing of a batch is visible (in the map, the .idx or an answer) before its write returned.
import type { NeedleParts } from "./needle-parts.js";
import type { WriteResult } from "./store-api.js";
import { appendBatchBytesMax, appendBatchRecordsMax } from "./limits.js";

/** Batches written and the records they held: per volume, and summed over a store for /metrics. */
export interface AppendBatchStats {
  batches: number;
  records: number;
}

/** Told once, after the batch's write: the result, or why the record is not stored. */
export type AppendDone = (err: Error | undefined, result: WriteResult | undefined) => void;

export interface QueuedAppend {
  hi: number;
  lo: number;
  enc: NeedleParts;
  /** Where the record goes in the .dat; -1 for an unchanged needle (nothing to write). */
  offset: number;
  done: AppendDone;
}

export class AppendBatch {
  readonly items: QueuedAppend[] = [];
  /** The records' bytes, in file order (empty parts left out). */
  readonly buffers: Buffer[] = [];
  bytes = 0;

  /** `start`: the .dat's end when the batch began; its records follow one another from there. */
  constructor(readonly start: number) {}

  /** Where the next record would go. */
  get end(): number {
    return this.start + this.bytes;
  }

  /** Whether a record of `recordBytes` may join (else the batch is written first). */
  fits(recordBytes: number): boolean {
    return this.items.length < appendBatchRecordsMax && this.bytes + recordBytes <= appendBatchBytesMax;
  }

  /** Whether a record of this key waits here (its cookie and "unchanged" checks need it in the map first). */
  holds(hi: number, lo: number): boolean {
    for (const it of this.items) if (it.hi === hi && it.lo === lo) return true;
    return false;
  }

  /** Queues a record at `end`. */
  add(hi: number, lo: number, enc: NeedleParts, done: AppendDone): void {
    this.items.push({ hi, lo, enc, offset: this.end, done });
    for (const b of enc.buffers) if (b.length > 0) this.buffers.push(b);
    this.bytes += enc.length;
  }

  /** Queues the answer for a needle stored already with the same bytes: told with the others. */
  addUnchanged(hi: number, lo: number, enc: NeedleParts, done: AppendDone): void {
    this.items.push({ hi, lo, enc, offset: -1, done });
  }
}
