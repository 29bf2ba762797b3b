// The simulated network: every message gets a delivery tick drawn from the delay range, so
// messages reorder; each may be lost or duplicated; directed links can be cut (a symmetric
// partition cuts both directions, a one-way partition one). A link cut when a message is sent or
// when it is due drops the message.
import type { Message, NodeId } from "../types.js";
import type { Prng } from "./prng.js";

export interface NetworkFaults {
  /** Probability that a message is lost. */
  lossRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Delivery delay in ticks, uniform in [delayTicksMin, delayTicksMax]. */
  delayTicksMin: number;
  delayTicksMax: number;
  /** Probability that a message is held back much longer, up to slowDelayTicksMax (stale deliveries). */
  slowRate: number;
  slowDelayTicksMax: number;
}

export const RELIABLE_NETWORK: NetworkFaults = {
  lossRate: 0,
  duplicateRate: 0,
  delayTicksMin: 1,
  delayTicksMax: 1,
  slowRate: 0,
  slowDelayTicksMax: 1,
};

/** Messages in flight at most; beyond it new messages are dropped (a full send queue). */
export const networkInFlightMax = 100_000;

interface InFlight {
  readonly due: number;
  readonly seq: number;
  readonly msg: Message;
}

export class SimNetwork {
  faults: NetworkFaults;
  private readonly prng: Prng;
  private readonly cut = new Set<string>();
  /** Messages by due tick. */
  private readonly queue = new Map<number, InFlight[]>();
  private inFlight = 0;
  private seq = 0;
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(prng: Prng, faults: NetworkFaults) {
    this.prng = prng;
    this.faults = faults;
  }

  private static link(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(SimNetwork.link(from, to));
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(SimNetwork.link(from, to));
  }

  /** Cut every link between group a and group b, in both directions or only a -> b. */
  partition(a: readonly NodeId[], b: readonly NodeId[], oneWay: boolean): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.cutLink(x, y);
        if (!oneWay) this.cutLink(y, x);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  hasPartitions(): boolean {
    return this.cut.size > 0;
  }

  send(now: number, msg: Message): void {
    this.sent++;
    if (this.isCut(msg.from, msg.to) || this.prng.chance(this.faults.lossRate) || this.inFlight >= networkInFlightMax) {
      this.dropped++;
      return;
    }
    this.enqueue(now, msg);
    if (this.prng.chance(this.faults.duplicateRate)) {
      this.duplicated++;
      this.enqueue(now, msg);
    }
  }

  private enqueue(now: number, msg: Message): void {
    const { delayTicksMin, delayTicksMax, slowRate, slowDelayTicksMax } = this.faults;
    const slow = this.prng.chance(slowRate);
    const due =
      now + (slow ? this.prng.range(delayTicksMax, slowDelayTicksMax) : this.prng.range(delayTicksMin, delayTicksMax));
    let bucket = this.queue.get(due);
    if (bucket === undefined) {
      bucket = [];
      this.queue.set(due, bucket);
    }
    bucket.push({ due, seq: this.seq++, msg });
    this.inFlight++;
  }

  /** The messages due at `now`, in a random order, minus those whose link is now cut. */
  deliver(now: number): Message[] {
    const bucket = this.queue.get(now);
    if (bucket === undefined) return [];
    this.queue.delete(now);
    this.inFlight -= bucket.length;
    this.prng.shuffle(bucket);
    const out: Message[] = [];
    for (const f of bucket) {
      if (this.isCut(f.msg.from, f.msg.to)) this.dropped++;
      else out.push(f.msg);
    }
    return out;
  }
}
