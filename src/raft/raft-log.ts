// The log as the core sees it: the latest snapshot followed by the entries after it, in memory.
// Entries at or below `persistedIndex` are durable (the runtime wrote them and called advance());
// the rest are "unstable" and go into the next Ready.
//
// Invariants (checked by `assert`):
//   entries[i].index === snapshotIndex + 1 + i                  (contiguous after the snapshot)
//   snapshotIndex <= applied <= committed <= lastIndex()         (applied may trail a new snapshot
//                                                                  until its Ready is advanced)
//   persistedIndex <= lastIndex()
// Every lookup is O(1); only compaction and truncation move memory.
import { assert } from "./errors.js";
import type { Entry, Membership, Snapshot } from "./types.js";

/** Bytes an entry counts for in the message and uncommitted limits. */
export function entryPayloadBytes(e: Entry): number {
  switch (e.type) {
    case "normal":
      return e.data.byteLength;
    case "conf-change":
      return e.change.node.length;
    case "noop":
      return 0;
  }
}

export interface TermIndex {
  readonly index: number;
  readonly term: number;
}

export const EMPTY_MEMBERSHIP: Membership = { voters: [], learners: [] };

export class RaftLog {
  private snapshotIndex: number;
  private snapshotTerm: number;
  /** The latest snapshot (sent to followers that are too far behind); null before the first one. */
  private snapshot: Snapshot | null;
  private entries: Entry[];
  /** A snapshot received from the leader, not yet handed out in a Ready. */
  private unstableSnapshot: Snapshot | null = null;
  private persistedIndex: number;
  committed: number;
  applied: number;
  /** Committed entries handed out in a Ready (being applied): applied <= applying <= committed. */
  private applying: number;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[], committed: number, applied: number) {
    this.snapshot = snapshot;
    this.snapshotIndex = snapshot?.meta.index ?? 0;
    this.snapshotTerm = snapshot?.meta.term ?? 0;
    this.entries = entries.slice();
    for (let i = 0; i < this.entries.length; i++) {
      assert(
        (this.entries[i] as Entry).index === this.snapshotIndex + 1 + i,
        "log: entries not contiguous after snapshot",
      );
    }
    this.persistedIndex = this.lastIndex();
    this.committed = committed;
    this.applied = applied;
    this.applying = applied;
    assert(this.snapshotIndex <= applied && applied <= committed, "log: need snapshot <= applied <= committed");
    assert(committed <= this.lastIndex(), "log: commit beyond last index");
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) as number;
  }

  /** The term of entry `index`, or undefined if it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex) return undefined;
    return this.entries[index - this.snapshotIndex - 1]?.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshotIndex) return undefined;
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  snapshotMeta(): TermIndex {
    return { index: this.snapshotIndex, term: this.snapshotTerm };
  }

  /**
   * Entries [lo, hi) limited to `maxBytes` of payload and `maxCount` entries (at least one entry
   * if the range is not empty). Undefined if `lo` is compacted away.
   */
  slice(lo: number, hi: number, maxBytes: number, maxCount: number): Entry[] | undefined {
    if (lo <= this.snapshotIndex) return undefined;
    assert(hi <= this.lastIndex() + 1, `log: slice hi ${hi} beyond last ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && out.length < maxCount; i++) {
      const e = this.entries[i - this.snapshotIndex - 1] as Entry;
      bytes += entryPayloadBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * The index of the first entry of `ents` that is missing from our log or conflicts with it
   * (same index, different term), or 0 if all are present. Compacted indexes count as matching:
   * they are committed, and committed entries never conflict.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (e.index <= this.snapshotIndex) continue;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The last entry at or below `index` whose term is at most `term`: the leader uses the answer
   * to skip a conflicting term in one round trip. Stops at the snapshot (its term is unknown
   * below it).
   */
  findConflictByTerm(index: number, term: number): TermIndex {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  /**
   * §5.3 AppendEntries receiver: if our log matches (prevIndex, prevTerm), append `ents`
   * (truncating a conflicting suffix), advance commit to min(commit, last new index) and return
   * the last new index; otherwise undefined.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      assert(conflict > this.committed, `log: conflict at ${conflict} within committed ${this.committed}`);
      this.append(ents.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Append entries; the first may overwrite an uncommitted suffix. Returns the new last index. */
  append(ents: readonly Entry[]): number {
    const first = ents[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index > this.committed, `log: append at ${first.index} overwrites committed ${this.committed}`);
    assert(first.index <= this.lastIndex() + 1, `log: append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    if (first.index <= this.lastIndex()) {
      this.entries.length = first.index - this.snapshotIndex - 1;
      this.persistedIndex = Math.min(this.persistedIndex, first.index - 1);
    }
    for (const e of ents) {
      assert(e.index === this.lastIndex() + 1, "log: appended entries not contiguous");
      this.entries.push(e);
    }
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `log: commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, `log: applied ${index} beyond commit ${this.committed}`);
    assert(index >= this.applied, `log: applied moved back from ${this.applied} to ${index}`);
    this.applied = index;
    if (index > this.applying) this.applying = index;
  }

  /** Committed entries up to `index` were handed out to be applied: the next Ready starts after them. */
  applyingTo(index: number): void {
    assert(index <= this.committed, `log: applying ${index} beyond commit ${this.committed}`);
    if (index > this.applying) this.applying = index;
  }

  /** Entries not yet durable, in order. */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.persistedIndex - this.snapshotIndex);
  }

  hasUnstableEntries(): boolean {
    return this.persistedIndex < this.lastIndex();
  }

  /** The runtime made entries up to (index, term) durable. Ignored if the log changed since. */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.persistedIndex) this.persistedIndex = index;
  }

  persisted(): number {
    return this.persistedIndex;
  }

  pendingSnapshot(): Snapshot | null {
    return this.unstableSnapshot;
  }

  /** The runtime persisted and restored the snapshot at `index`. */
  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot?.meta.index === index) this.unstableSnapshot = null;
    if (index >= this.applied && index <= this.committed) this.applied = index;
    if (this.applied > this.applying) this.applying = this.applied;
  }

  /** Committed entries not yet handed out, at most `maxBytes` of payload (at least one entry). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.unstableSnapshot !== null || this.applying >= this.committed) return [];
    return this.slice(this.applying + 1, this.committed + 1, maxBytes, Number.MAX_SAFE_INTEGER) ?? [];
  }

  hasNextCommittedEntries(): boolean {
    return this.unstableSnapshot === null && this.applying < this.committed;
  }

  /** Replace the whole log by a snapshot from the leader (§7 InstallSnapshot receiver). */
  restore(s: Snapshot): void {
    assert(s.meta.index > this.committed, "log: restore of a snapshot at or below commit");
    this.snapshot = s;
    this.unstableSnapshot = s;
    this.snapshotIndex = s.meta.index;
    this.snapshotTerm = s.meta.term;
    this.entries = [];
    this.persistedIndex = s.meta.index;
    this.committed = s.meta.index;
  }

  /**
   * Log compaction: the state machine's snapshot `data` reflects every entry up to `index`
   * (applied and durable); drop those entries and keep the snapshot.
   */
  compact(index: number, data: Uint8Array, membership: Membership): Snapshot {
    assert(index > this.snapshotIndex, "log: compact at or below the snapshot");
    assert(index <= this.applied, "log: compact beyond applied");
    assert(index <= this.persistedIndex, "log: compact beyond persisted");
    const term = this.term(index) as number;
    const snapshot: Snapshot = { meta: { index, term, membership }, data };
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.snapshot = snapshot;
    return snapshot;
  }
}
