// A simulated disk for one node: what survives a crash. It starts unformatted (the runtime
// initializes it, as it would a new LevelDB directory). A write is atomic (one batch); a write
// made without fsync sits in the OS's cache: a process crash keeps it, a power loss drops every
// write since the last fsync'd one (an fsync flushes everything before it, as LevelDB's log does).
// Data is checked on the way in (the write) and on the way out (the load, by the core's
// constructor).
import { assert } from "../errors.js";
import type { Entry, HardState, PersistedState, Ready, Snapshot } from "../types.js";

interface DiskState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

function copy(s: DiskState): DiskState {
  return { hardState: s.hardState, snapshot: s.snapshot, entries: s.entries.slice() };
}

export class SimDisk {
  private state: DiskState | null = null;
  /** The state as of the last fsync, kept while later writes are not fsync'd (null: all durable). */
  private durable: DiskState | null = null;
  writes = 0;
  /** Writes a power loss threw away. */
  lostWrites = 0;
  private unsynced = 0;

  private get s(): DiskState {
    assert(this.state !== null, "disk: not initialized");
    return this.state;
  }

  get formatted(): boolean {
    return this.state !== null;
  }

  private snapIndex(): number {
    return this.s.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.state === null ? 0 : this.snapIndex() + this.s.entries.length;
  }

  hardState(): HardState | null {
    return this.state?.hardState ?? null;
  }

  entryAt(index: number): Entry | undefined {
    return this.s.entries[index - this.snapIndex() - 1];
  }

  termAt(index: number): number | undefined {
    if (index === this.snapIndex()) return this.s.snapshot?.meta.term ?? 0;
    return this.entryAt(index)?.term;
  }

  /** The initial state of a new node, fsync'd. */
  initialize(initial: PersistedState): void {
    assert(this.state === null, "disk: initialized twice");
    this.state = { hardState: initial.hardState, snapshot: initial.snapshot, entries: initial.entries.slice() };
    this.durable = null;
  }

  /** Before a write: keep what a power loss would leave if this write is not fsync'd. */
  private beginWrite(sync: boolean): void {
    this.writes++;
    if (sync) {
      this.durable = null;
      this.unsynced = 0;
    } else {
      if (this.durable === null) this.durable = copy(this.s);
      this.unsynced++;
    }
  }

  /** Step 1 of handling a Ready: snapshot, then entries (truncating a replaced suffix), then hard state. */
  persist(rd: Ready, sync: boolean): void {
    this.beginWrite(sync);
    const s = this.s;
    if (rd.snapshot !== null) {
      assert(rd.snapshot.meta.index > this.snapIndex(), "disk: snapshot older than the stored one");
      s.snapshot = rd.snapshot;
      s.entries = [];
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      assert(first.index > this.snapIndex(), "disk: entries at or below the snapshot");
      assert(first.index <= this.lastIndex() + 1, `disk: gap before entry ${first.index} (last ${this.lastIndex()})`);
      s.entries.length = first.index - this.snapIndex() - 1;
      for (const e of rd.entries) s.entries.push(e);
    }
    if (rd.hardState !== null) {
      assert(rd.hardState.term >= s.hardState.term, "disk: term moved back");
      s.hardState = rd.hardState;
    }
  }

  /** Log compaction: keep `snap` and drop the entries it covers (not fsync'd, as in storage.ts). */
  saveSnapshot(snap: Snapshot): void {
    const current = this.snapIndex();
    if (snap.meta.index <= current) return;
    assert(this.termAt(snap.meta.index) === snap.meta.term, "disk: compaction snapshot does not match the stored log");
    this.beginWrite(false);
    const s = this.s;
    s.entries = s.entries.slice(snap.meta.index - current);
    s.snapshot = snap;
    // As the LevelDB store: the stored commit index may lag (see SimStorage.persist); the
    // snapshot's entries are committed.
    if (s.hardState.commit < snap.meta.index) s.hardState = { ...s.hardState, commit: snap.meta.index };
  }

  /** A power loss: every write since the last fsync is gone. */
  powerLoss(): number {
    const lost = this.unsynced;
    if (this.durable !== null) this.state = this.durable;
    this.durable = null;
    this.unsynced = 0;
    this.lostWrites += lost;
    return lost;
  }

  /** What a restarting node reads, or null when it was never initialized. */
  load(): PersistedState | null {
    if (this.state === null) return null;
    // The hard state's commit may lag; it never passes the stored log (committed entries were
    // persisted in the same or an earlier Ready).
    assert(this.s.hardState.commit <= this.lastIndex(), "disk: commit beyond the stored log");
    return { hardState: this.s.hardState, snapshot: this.s.snapshot, entries: this.s.entries.slice() };
  }
}
