// Hands out file keys from blocks the cluster state has made durable. The hot path (tryTake) is a
// synchronous bump of a number; the next block is reserved in the background once fewer than
// `refillThreshold` keys remain, so assigns do not wait on the disk. A heartbeat that reports a key
// above what we would hand out next raises the floor: no key at or below it is ever issued.
import { ErrorCode, WeedError, assert } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { ClusterState } from "./cluster-state.js";
import { realClock, type RuntimeClock } from "../../raft/runtime/ports.js";
import { fileKeyBlockSize, fileKeyMax, fileKeyRefillThreshold, fileKeyReserveWaitMs } from "../limits.js";

/** Rounds of "wait for a block, take from it" one take may go through before giving up: bounded. */
const takeRoundsMax = 1_000;

interface Block {
  next: number;
  end: number;
}

/**
 * The time the master's waits run on: Node's timers and performance.now in production
 * (raft's realClock), the simulator's clock under test/sim. The state and topology wings take it
 * from here (topology may not import raft).
 */
export type MasterClock = Pick<RuntimeClock, "now" | "setTimeout" | "clearTimeout" | "setInterval" | "clearInterval">;

export const realMasterClock: MasterClock = realClock;

/**
 * An AbortSignal that aborts with a "TimeoutError" DOMException after `ms`, as AbortSignal.timeout
 * does: exactly that on Node's timers (no clock given), otherwise a timer on `clock`.
 */
export function timeoutSignal(clock: MasterClock | undefined, ms: number): AbortSignal {
  // AbortSignal.timeout throws on a fractional delay, and waits left over from performance.now()
  // (the warm-up's) are fractional: a 500 on an assign in a warm-up's last 1.5 s, before this.
  if (clock === undefined || clock === realMasterClock) return AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
  const ac = new AbortController();
  clock.setTimeout(() => ac.abort(new DOMException("The operation timed out", "TimeoutError")), ms);
  return ac.signal;
}

export interface SequencerOptions {
  blockSize?: number;
  refillThreshold?: number;
  reserveWaitMs?: number;
  /** What take() waits on (default: Node's timers). */
  clock?: MasterClock;
}

export class Sequencer {
  private readonly state: ClusterState;
  private readonly log: Logger;
  private readonly blockSize: number;
  private readonly refillThreshold: number;
  private readonly reserveWaitMs: number;
  private readonly clock: MasterClock;
  /** In hand, in key order; at most two (the current one and the one reserved ahead). */
  private readonly blocks: Block[] = [];
  /** Every key <= floor is taken (issued by us or seen on a volume server). */
  private floor = 0;
  private pending: Promise<void> | undefined;
  private closed = false;

  constructor(state: ClusterState, logger: Logger, options: SequencerOptions = {}) {
    this.state = state;
    this.log = logger;
    this.blockSize = options.blockSize ?? fileKeyBlockSize;
    this.refillThreshold = options.refillThreshold ?? fileKeyRefillThreshold;
    this.reserveWaitMs = options.reserveWaitMs ?? fileKeyReserveWaitMs;
    this.clock = options.clock ?? realMasterClock;
    assert(this.refillThreshold > 0 && this.refillThreshold < this.blockSize, "refill threshold inside a block");
  }

  /** Reserves the first block. */
  async start(): Promise<void> {
    this.refill();
    await this.pending;
  }

  close(): void {
    this.closed = true;
  }

  /** Keys in hand (for tests and metrics). */
  get available(): number {
    let n = 0;
    for (const b of this.blocks) n += b.end - b.next;
    return n;
  }

  /** `count` consecutive keys from memory: the first of them, or -1 when none are in hand. */
  tryTake(count: number): number {
    while (this.blocks.length > 0) {
      const b = this.blocks[0]!;
      if (b.end - b.next >= count) {
        const key = b.next;
        b.next += count;
        if (b.next === b.end) this.blocks.shift();
        if (this.blocks.length < 2 && this.available < this.refillThreshold) this.refill();
        return key;
      }
      // The rest of this block cannot hold `count` consecutive keys: skip it (keys are never reused).
      this.blocks.shift();
    }
    this.refill();
    return -1;
  }

  /** Like tryTake, waiting (bounded) for a block reservation when none is in hand. */
  async take(count: number, signal?: AbortSignal): Promise<number> {
    assert(Number.isSafeInteger(count) && count > 0 && count <= this.blockSize, `key count ${count}`);
    const deadline = this.clock.now() + this.reserveWaitMs;
    // Each round waits for one reservation; many concurrent takers may need several rounds. The
    // deadline is the real bound, the round cap only guards against a reservation that resolves empty.
    for (let round = 0; round < takeRoundsMax; round++) {
      const key = this.tryTake(count);
      if (key >= 0) return key;
      if (this.closed) throw new WeedError(ErrorCode.CLOSED, "master is closing");
      signal?.throwIfAborted();
      const left = deadline - this.clock.now();
      if (left <= 0) break;
      await waitBounded(this.clock, this.pending, left, signal);
    }
    throw new WeedError(ErrorCode.UNAVAILABLE, `no file keys reserved within ${this.reserveWaitMs} ms`);
  }

  /** A volume server holds `maxKey`: never issue it or anything below it. */
  observe(maxKey: number): void {
    if (maxKey <= this.floor) return;
    if (!Number.isSafeInteger(maxKey) || maxKey > fileKeyMax) {
      this.log.warn({ maxKey }, "heartbeat reports a file key above the sequencer's range; ignored");
      return;
    }
    this.floor = maxKey;
    while (this.blocks.length > 0) {
      const b = this.blocks[0]!;
      if (b.next > maxKey) break;
      if (b.end > maxKey + 1) {
        b.next = maxKey + 1;
        break;
      }
      this.blocks.shift();
    }
    if (this.available < this.refillThreshold) this.refill();
  }

  /** Starts one background reservation unless one is under way. */
  private refill(): void {
    if (this.pending !== undefined || this.closed) return;
    this.pending = this.reserve().finally(() => {
      this.pending = undefined;
    });
    // take() observes failures through the promise; the background refill must not crash the process.
    this.pending.catch(() => undefined);
  }

  private async reserve(): Promise<void> {
    const lastEnd = this.blocks.length > 0 ? this.blocks[this.blocks.length - 1]!.end - 1 : 0;
    try {
      const block = await this.state.reserveFileKeys(this.blockSize, Math.max(this.floor, lastEnd));
      const next = Math.max(block.first, this.floor + 1);
      if (next < block.end) this.blocks.push({ next, end: block.end });
      this.log.debug({ first: block.first, end: block.end }, "reserved file key block");
    } catch (err) {
      this.log.error({ err }, "reserving a file key block failed");
      throw err;
    }
  }
}

/** Waits for `p` (its rejection is rethrown) but no longer than `ms` or the signal. */
async function waitBounded(
  clock: MasterClock,
  p: Promise<void> | undefined,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  if (p === undefined) return;
  let timer: unknown;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<void>((resolve, reject) => {
    timer = clock.setTimeout(resolve, ms);
    if (signal !== undefined) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    await Promise.race([p, stop]);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}
