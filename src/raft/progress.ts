// A leader's view of one follower's replication (the "nextIndex"/"matchIndex" of Figure 2), as
// a small state machine:
//
//   probe ──(append accepted)──▶ replicate ──(append rejected / unreachable)──▶ probe
//     │  ▲                                                                        │
//     │  └──────(snapshot acknowledged / snapshot retry timeout)── snapshot ◀─────┘
//     └──────────(needed entries compacted away)──────────────────────▲
//
// - probe: at most one append in flight; wait for its answer (or a heartbeat answer) before the
//   next, so a follower with a diverging log is found cheaply.
// - replicate: appends are pipelined optimistically, at most `Inflights.capacity` in flight.
// - snapshot: an InstallSnapshot is in flight; nothing else is sent until it is acknowledged.
import { assert } from "./errors.js";
import type { ProgressStatus } from "./types.js";

/** A bounded FIFO of the last index of each append in flight (a ring buffer). */
export class Inflights {
  readonly capacity: number;
  private readonly buffer: number[];
  private start = 0;
  private count = 0;

  constructor(capacity: number) {
    assert(capacity > 0, "inflights capacity must be positive");
    this.capacity = capacity;
    this.buffer = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), "inflights: add while full");
    if (this.count > 0) {
      const newest = this.buffer[(this.start + this.count - 1) % this.capacity] as number;
      assert(lastIndex > newest, `inflights: ${lastIndex} not above ${newest}`);
    }
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Forget every append whose last index is at most `index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && (this.buffer[this.start] as number) <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

/**
 * Heartbeat answers without progress before the leader assumes appends were lost. Two, so that a
 * heartbeat overtaking an append (reordering) does not cause a retransmission by itself.
 */
export const stalledBeatsMax = 2;

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  /** Highest index known replicated on the follower. */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an append was sent and is unanswered, so sending is paused. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being installed. */
  pendingSnapshot = 0;
  /** Ticks spent in snapshot state (see RaftConfig.snapshotRetryTicks). */
  snapshotTicks = 0;
  /** Replicate state: heartbeat answers in a row during which `match` stood still with appends in flight. */
  private stalledBeats = 0;
  private matchAtLastBeat = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  learner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, learner: boolean) {
    assert(next >= 1, "progress: next must be at least 1");
    this.next = next;
    this.learner = learner;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's index.
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.stalledBeats = 0;
    this.matchAtLastBeat = this.match;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights.reset();
  }

  /** The follower acknowledged `index`. Returns false if that was old news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Record an append just sent whose last entry is `lastIndex` (entries non-empty). */
  sentEntries(lastIndex: number): void {
    switch (this.state) {
      case "replicate":
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
        return;
      case "probe":
        this.probeSent = true;
        return;
      case "snapshot":
        assert(false, "progress: append sent in snapshot state");
    }
  }

  /**
   * The follower rejected an append whose prevIndex was `rejected`; `matchHint` is the highest
   * index that may still match (from the conflict hint). Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      // A rejection at or below match is a late answer to an old probe.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe (or snapshot): only the answer to the latest probe counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /**
   * Called on each heartbeat answer. True when appends are in flight in replicate state but
   * `match` has not moved for stalledBeatsMax answers: they (or their answers) were lost.
   */
  replicationStalled(): boolean {
    if (this.state !== "replicate" || this.inflights.size === 0 || this.match !== this.matchAtLastBeat) {
      this.matchAtLastBeat = this.match;
      this.stalledBeats = 0;
      return false;
    }
    return ++this.stalledBeats >= stalledBeatsMax;
  }

  /** Whether the leader must hold back appends to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      learner: this.learner,
      recentActive: this.recentActive,
      inflight: this.inflights.size,
    };
  }
}
