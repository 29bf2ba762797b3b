// A node's durable Raft state on `level` (LevelDB): the log store (entries by big-endian index)
// and the stable store (hard state, latest snapshot with its membership) share one database in
// the node's directory, so that everything one Ready changes is written by ONE atomic batch:
// a crash leaves either the whole Ready on disk or none of it, never half (see storage-codec.ts
// for the key layout and value encodings).
//
// Writes:
//   persist(rd)        snapshot (replaces the whole log), entries (overwriting/truncating a
//                      suffix), hard state; fsync'd when rd.mustSync.
//   saveSnapshot(s)    log compaction: the snapshot plus the deletion of the entries it covers.
// The hard state's commit index may lag on disk (the core allows it): a Ready that only moves the
// commit index writes nothing, unless it commits a membership change (ports.ts, commitsMembership);
// the newest hard state rides along with the next write.
import { Level } from "level";
import { assert } from "../errors.js";
import type { Entry, HardState, PersistedState, Ready, Snapshot } from "../types.js";
import { StorageCorruptError } from "./errors.js";
import { commitsMembership } from "./ports.js";
import {
  KEY_ENTRY_END,
  KEY_FORMAT,
  KEY_HARD_STATE,
  KEY_SNAPSHOT,
  FORMAT_VERSION,
  decodeEntry,
  decodeFormat,
  decodeHardState,
  decodeSnapshot,
  encodeEntry,
  encodeFormat,
  encodeHardState,
  encodeSnapshot,
  entryKey,
  entryKeyIndex,
} from "./storage-codec.js";

type Op = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

export interface StorageStats {
  /** Batches written (each one atomic). */
  batches: number;
  /** Of which fsync'd. */
  syncedBatches: number;
  entriesWritten: number;
}

export class RaftStorage {
  readonly dir: string;
  private db: Level<Uint8Array, Uint8Array> | null = null;
  /** The newest hard state seen (written with the next batch if only its commit moved). */
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private durableTerm = 0;
  private durableVote: string | null = null;
  private snapIndex = 0;
  /** The stored entries are exactly (snapIndex, lastIndex]. */
  private lastIndex = 0;
  readonly stats: StorageStats = { batches: 0, syncedBatches: 0, entriesWritten: 0 };

  constructor(dir: string) {
    this.dir = dir;
  }

  async open(): Promise<void> {
    if (this.db !== null) return;
    const db = new Level<Uint8Array, Uint8Array>(this.dir, {
      keyEncoding: "view",
      valueEncoding: "view",
      createIfMissing: true,
    });
    await db.open();
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    if (db !== null) await db.close();
  }

  private get level(): Level<Uint8Array, Uint8Array> {
    assert(this.db !== null, "storage: not open");
    return this.db;
  }

  /** The stored state, or null when this directory was never initialized. */
  async load(): Promise<PersistedState | null> {
    const db = this.level;
    const fmt = await db.get(KEY_FORMAT);
    if (fmt === undefined) return null;
    const version = decodeFormat(fmt);
    if (version !== FORMAT_VERSION)
      throw new StorageCorruptError(`format version ${version}, this build reads ${FORMAT_VERSION}`);
    const hsValue = await db.get(KEY_HARD_STATE);
    if (hsValue === undefined) throw new StorageCorruptError("format marker without a hard state");
    const hardState = decodeHardState(hsValue);
    const snapValue = await db.get(KEY_SNAPSHOT);
    const snapshot = snapValue === undefined ? null : decodeSnapshot(snapValue);
    const snapIndex = snapshot?.meta.index ?? 0;
    // Entries at or below the snapshot cannot exist (a snapshot and the deletion of the entries
    // it covers are one batch); clearing the range is cheap insurance, not a repair path.
    await db.clear({ gte: entryKey(0), lt: entryKey(snapIndex + 1) });
    const entries: Entry[] = [];
    for await (const [key, value] of db.iterator({ gte: entryKey(snapIndex + 1), lt: KEY_ENTRY_END })) {
      const index = entryKeyIndex(key);
      const want = snapIndex + 1 + entries.length;
      if (index !== want) throw new StorageCorruptError(`log gap: found entry ${index}, expected ${want}`);
      entries.push(decodeEntry(index, value));
    }
    const lastIndex = snapIndex + entries.length;
    if (hardState.commit > lastIndex)
      throw new StorageCorruptError(`commit ${hardState.commit} beyond the last stored entry ${lastIndex}`);
    this.hardState = hardState;
    this.durableTerm = hardState.term;
    this.durableVote = hardState.vote;
    this.snapIndex = snapIndex;
    this.lastIndex = lastIndex;
    return { hardState, snapshot, entries };
  }

  /** Write the initial state of a new node (bootstrap or joining) in one fsync'd batch. */
  async initialize(state: PersistedState): Promise<void> {
    assert(state.entries.length === 0, "storage: initial state with entries");
    const ops: Op[] = [
      { type: "put", key: KEY_FORMAT, value: encodeFormat() },
      { type: "put", key: KEY_HARD_STATE, value: encodeHardState(state.hardState) },
    ];
    if (state.snapshot !== null) ops.push({ type: "put", key: KEY_SNAPSHOT, value: encodeSnapshot(state.snapshot) });
    await this.write(ops, true);
    this.adopt(state);
  }

  /** The bookkeeping after `state` (hard state and snapshot, no entries) was written whole. */
  private adopt(state: PersistedState): void {
    this.hardState = state.hardState;
    this.durableTerm = state.hardState.term;
    this.durableVote = state.hardState.vote;
    this.snapIndex = state.snapshot?.meta.index ?? 0;
    this.lastIndex = this.snapIndex;
  }

  /**
   * Offline recovery only (`weed-ts master.raft rewrite`), never while a runtime runs on this
   * store: replace everything stored with `state` (no entries) in one fsync'd batch, so a crash
   * leaves either the old state or the new one.
   */
  async replaceAll(state: PersistedState): Promise<void> {
    assert(state.entries.length === 0, "storage: replacement state with entries");
    assert(
      state.hardState.commit <= (state.snapshot?.meta.index ?? 0),
      "storage: replacement commit beyond its snapshot",
    );
    const ops: Op[] = [];
    // Deleting the format marker and putting it back in the same batch leaves it as it was.
    for await (const key of this.level.keys()) ops.push({ type: "del", key });
    ops.push({ type: "put", key: KEY_FORMAT, value: encodeFormat() });
    ops.push({ type: "put", key: KEY_HARD_STATE, value: encodeHardState(state.hardState) });
    if (state.snapshot !== null) ops.push({ type: "put", key: KEY_SNAPSHOT, value: encodeSnapshot(state.snapshot) });
    await this.write(ops, true);
    this.adopt(state);
  }

  /**
   * Step 1 of a Ready: snapshot, entries, hard state, in one batch (fsync'd if rd.mustSync).
   * Resolves with whether anything was written.
   */
  async persist(rd: Ready): Promise<boolean> {
    const ops: Op[] = [];
    let snapIndex = this.snapIndex;
    let lastIndex = this.lastIndex;
    if (rd.snapshot !== null) {
      const s = rd.snapshot.meta.index;
      assert(s > snapIndex, `storage: snapshot ${s} not newer than the stored ${snapIndex}`);
      ops.push({ type: "put", key: KEY_SNAPSHOT, value: encodeSnapshot(rd.snapshot) });
      // InstallSnapshot replaces the whole log.
      for (let i = snapIndex + 1; i <= lastIndex; i++) ops.push({ type: "del", key: entryKey(i) });
      snapIndex = s;
      lastIndex = s;
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      assert(first.index > snapIndex, `storage: entry ${first.index} at or below the snapshot ${snapIndex}`);
      assert(first.index <= lastIndex + 1, `storage: gap before entry ${first.index} (last stored ${lastIndex})`);
      let prev = first.index - 1;
      for (const e of rd.entries) {
        assert(e.index === prev + 1, "storage: entries not contiguous");
        prev = e.index;
        ops.push({ type: "put", key: entryKey(e.index), value: encodeEntry(e) });
      }
      // A suffix replaced by a new leader's entries: whatever lies past the new end goes.
      for (let i = prev + 1; i <= lastIndex; i++) ops.push({ type: "del", key: entryKey(i) });
      lastIndex = prev;
    }
    if (rd.hardState !== null) this.hardState = rd.hardState;
    const termOrVote = this.hardState.term !== this.durableTerm || this.hardState.vote !== this.durableVote;
    // Only the commit index moved: it may lag on disk, unless it passed a membership change.
    if (ops.length === 0 && !termOrVote && !commitsMembership(rd)) return false;
    assert(
      this.hardState.commit <= lastIndex,
      `storage: commit ${this.hardState.commit} beyond last index ${lastIndex}`,
    );
    ops.push({ type: "put", key: KEY_HARD_STATE, value: encodeHardState(this.hardState) });
    await this.write(ops, rd.mustSync);
    this.stats.entriesWritten += rd.entries.length;
    this.durableTerm = this.hardState.term;
    this.durableVote = this.hardState.vote;
    this.snapIndex = snapIndex;
    this.lastIndex = lastIndex;
    return true;
  }

  /**
   * Log compaction after RaftNode.compact(): store the snapshot and delete the entries it covers,
   * atomically. Not fsync'd: losing it in a power cut leaves the previous snapshot and the whole
   * log, which is just as valid; the next fsync'd write makes it durable.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const s = snapshot.meta.index;
    assert(
      s > this.snapIndex && s <= this.lastIndex,
      `storage: compaction to ${s} outside (${this.snapIndex}, ${this.lastIndex}]`,
    );
    // The snapshot's entries are applied, so committed; the stored commit index may lag behind
    // them (commit-only changes are not written, and a leader applies while its write runs).
    // Loading needs commit >= the snapshot's index.
    if (this.hardState.commit < s) this.hardState = { ...this.hardState, commit: s };
    const ops: Op[] = [
      { type: "put", key: KEY_SNAPSHOT, value: encodeSnapshot(snapshot) },
      { type: "put", key: KEY_HARD_STATE, value: encodeHardState(this.hardState) },
    ];
    for (let i = this.snapIndex + 1; i <= s; i++) ops.push({ type: "del", key: entryKey(i) });
    await this.write(ops, false);
    this.snapIndex = s;
  }

  /** Once, on close: cheaper to write than to find out whether the stored commit lags. */
  async saveCommit(hs: HardState): Promise<void> {
    if (!this.termAndVoteDurable(hs) || hs.commit < this.hardState.commit || hs.commit > this.lastIndex) return;
    this.hardState = hs;
    await this.write([{ type: "put", key: KEY_HARD_STATE, value: encodeHardState(hs) }], false);
  }

  /** Are `hs`'s term and vote already durable (so messages depending on them may go out)? */
  termAndVoteDurable(hs: HardState): boolean {
    return hs.term === this.durableTerm && hs.vote === this.durableVote;
  }

  /** What the store holds, for status and tests. */
  bounds(): { snapshotIndex: number; lastIndex: number; hardState: HardState } {
    return { snapshotIndex: this.snapIndex, lastIndex: this.lastIndex, hardState: this.hardState };
  }

  private async write(ops: Op[], sync: boolean): Promise<void> {
    // A chained batch: one LevelDB WriteBatch, applied atomically by write(). (The array form of
    // batch() costs ~8 us of JS per operation in abstract-level; this one ~1.5 us.)
    const batch = this.level.batch();
    for (const op of ops) {
      if (op.type === "put") batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    await batch.write({ sync });
    this.stats.batches++;
    if (sync) this.stats.syncedBatches++;
  }
}
