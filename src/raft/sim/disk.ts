// A simulated disk for one node: what survives a crash. Writes happen only when the node's
// runtime finishes persisting a Ready; a crash before that loses the Ready entirely. Data is
// checked on the way in (the write) and on the way out (the load, by the core's constructor).
import { assert } from "../errors.js";
import type { Entry, HardState, PersistedState, Ready, Snapshot } from "../types.js";

export class SimDisk {
  private hardState: HardState;
  private snapshot: Snapshot | null;
  private entries: Entry[];
  writes = 0;

  constructor(initial: PersistedState) {
    this.hardState = initial.hardState;
    this.snapshot = initial.snapshot;
    this.entries = initial.entries.slice();
  }

  private snapIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.snapIndex() + this.entries.length;
  }

  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.snapIndex() - 1];
  }

  termAt(index: number): number | undefined {
    if (index === this.snapIndex()) return this.snapshot?.meta.term ?? 0;
    return this.entryAt(index)?.term;
  }

  /** Step 1 of handling a Ready: snapshot, then entries (truncating a replaced suffix), then hard state. */
  persist(rd: Ready): void {
    this.writes++;
    if (rd.snapshot !== null) {
      assert(rd.snapshot.meta.index > this.snapIndex(), "disk: snapshot older than the stored one");
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      assert(first.index > this.snapIndex(), "disk: entries at or below the snapshot");
      assert(first.index <= this.lastIndex() + 1, `disk: gap before entry ${first.index} (last ${this.lastIndex()})`);
      this.entries.length = first.index - this.snapIndex() - 1;
      for (const e of rd.entries) this.entries.push(e);
    }
    if (rd.hardState !== null) {
      assert(rd.hardState.term >= this.hardState.term, "disk: term moved back");
      this.hardState = rd.hardState;
    }
  }

  /** Log compaction: keep `s` and drop the entries it covers. */
  saveSnapshot(s: Snapshot): void {
    const current = this.snapIndex();
    if (s.meta.index <= current) return;
    assert(this.termAt(s.meta.index) === s.meta.term, "disk: compaction snapshot does not match the stored log");
    this.entries = this.entries.slice(s.meta.index - current);
    this.snapshot = s;
  }

  load(): PersistedState {
    // The hard state's commit may lag; it never passes the stored log (committed entries were
    // persisted in the same or an earlier Ready).
    assert(this.hardState.commit <= this.lastIndex(), "disk: commit beyond the stored log");
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries.slice() };
  }
}
