// The runtime's store (ports.ts RaftStore) on a simulated disk, for one node incarnation. A write
// lands after a simulated latency; the runtime waits for it as it waits for LevelDB's fsync. A
// crash (kill()) before it lands loses it, and the runtime's loop never hears back (the process
// is gone). Deliberate bugs, to prove the checkers notice them:
//   "ack-before-durable"  persist() resolves at once and the write lands later: a crash in
//                         between forgets a vote or an entry the node already acknowledged
//   "skip-fsync"          nothing is fsync'd: a power loss forgets acknowledged votes and entries
import { assert } from "../errors.js";
import { type RaftStore, commitsMembership } from "../runtime/ports.js";
import type { HardState, PersistedState, Ready, Snapshot } from "../types.js";
import type { SimScheduler } from "./clock.js";
import type { SimDisk } from "./disk.js";

export type StorageBug = "none" | "ack-before-durable" | "skip-fsync";

/** What the simulation learns from a node's store (checkers, stats, faults). */
export interface StorageObserver {
  /** The latency of the next write, in ms. */
  writeLatencyMs(): number;
  /** A load at start, or the initialization of a new node: what the node starts from. */
  loaded(state: PersistedState | null): void;
  /** A Ready's write landed on the disk. */
  written(rd: Ready): void;
  /** A compaction snapshot was stored. */
  compacted(snapshot: Snapshot): void;
  /** Called after a write landed: true crashes the node right there (before the runtime continues). */
  crashAfterWrite(): boolean;
  /** The Ready being persisted had messages the runtime already sent (send-before-persist). */
  sentEarly(count: number): void;
}

export class SimStorage implements RaftStore {
  private readonly disk: SimDisk;
  private readonly sched: SimScheduler;
  private readonly observer: StorageObserver;
  private readonly bug: StorageBug;
  /** Messages the node's transport sent; a Ready's message found here went out before its write. */
  private readonly sent: WeakSet<object>;
  private dead = false;
  /** When the last scheduled write lands (writes land in order). */
  private lastLandsAt = 0;

  constructor(disk: SimDisk, sched: SimScheduler, observer: StorageObserver, bug: StorageBug, sent: WeakSet<object>) {
    this.disk = disk;
    this.sched = sched;
    this.observer = observer;
    this.bug = bug;
    this.sent = sent;
  }

  /** The crash: nothing more reaches the disk, and nothing pending resolves. */
  kill(): void {
    this.dead = true;
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async load(): Promise<PersistedState | null> {
    const state = this.disk.load();
    this.observer.loaded(state);
    return state;
  }

  async initialize(state: PersistedState): Promise<void> {
    this.disk.initialize(state);
    this.observer.loaded(state);
  }

  persist(rd: Ready): Promise<boolean> {
    let early = 0;
    for (const m of rd.messages) if (this.sent.has(m)) early++;
    if (early > 0) this.observer.sentEarly(early);
    // As the LevelDB store: a moved commit index alone is written only past a membership change.
    const commitOnly = rd.hardState === null || (this.commitOnly(rd.hardState) && !commitsMembership(rd));
    if (rd.entries.length === 0 && rd.snapshot === null && commitOnly) return Promise.resolve(false);
    const sync = rd.mustSync && this.bug !== "skip-fsync";
    const landsAt = Math.max(this.sched.now() + this.observer.writeLatencyMs(), this.lastLandsAt);
    this.lastLandsAt = landsAt;
    const land = (): boolean => {
      if (this.dead) return false;
      this.disk.persist(rd, sync);
      this.observer.written(rd);
      return true;
    };
    if (this.bug === "ack-before-durable") {
      this.sched.after(landsAt - this.sched.now(), land);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      this.sched.after(landsAt - this.sched.now(), () => {
        if (!land() || this.observer.crashAfterWrite()) return;
        resolve(true);
      });
    });
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (this.dead) return new Promise<void>(() => {});
    const compact = (): void => {
      if (this.dead) return;
      this.disk.saveSnapshot(snapshot);
      this.observer.compacted(snapshot);
    };
    // Behind the writes still on their way (only "ack-before-durable" leaves any): writes land in order.
    if (this.lastLandsAt > this.sched.now()) this.sched.after(this.lastLandsAt - this.sched.now(), compact);
    else compact();
  }

  async saveCommit(_hs: HardState): Promise<void> {
    // The simulator drops runtimes instead of closing them: never called.
  }

  private commitOnly(hs: HardState): boolean {
    const stored = this.disk.hardState();
    return stored !== null && hs.term === stored.term && hs.vote === stored.vote;
  }

  termAndVoteDurable(hs: HardState): boolean {
    const stored = this.disk.hardState();
    assert(stored !== null, "sim storage: not initialized");
    return hs.term === stored.term && hs.vote === stored.vote;
  }
}
