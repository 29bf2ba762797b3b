// Membership of the group and how conf-change entries move it (one server at a time, with a
// learner phase: dissertation §4.1-4.2). A change takes effect in the core when its entry COMMITS,
// as in etcd's raft; the leader refuses a new change while one is uncommitted and until it has
// committed an entry of its own term (the fix to the single-server change bug, raft-dev 2015).
//
// MembershipTracker keeps: the committed membership, the conf-change entries in the log above the
// commit index (to apply when the commit index passes them), and the committed changes since the
// snapshot (to answer "membership as of index i" for compaction). All are tiny.
import { assert } from "./errors.js";
import type { ConfChange, Entry, Membership, NodeId } from "./types.js";

function sorted(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort();
}

export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id);
}

export function isLearner(m: Membership, id: NodeId): boolean {
  return m.learners.includes(id);
}

export function isMember(m: Membership, id: NodeId): boolean {
  return isVoter(m, id) || isLearner(m, id);
}

/**
 * The membership after `change`. A change that does not apply (e.g. promoting a non-learner) is a
 * no-op: every node applies the same committed entries, so it is a no-op everywhere alike. The
 * leader validates changes before proposing them, so this happens only with a buggy proposer.
 */
export function applyConfChange(m: Membership, change: ConfChange): Membership {
  const { node } = change;
  switch (change.type) {
    case "add-learner":
      if (isMember(m, node)) return m;
      return { voters: m.voters, learners: sorted([...m.learners, node]) };
    case "promote":
      if (!isLearner(m, node)) return m;
      return { voters: sorted([...m.voters, node]), learners: m.learners.filter((id) => id !== node) };
    case "remove":
      if (!isMember(m, node)) return m;
      return { voters: m.voters.filter((id) => id !== node), learners: m.learners.filter((id) => id !== node) };
  }
}

export function normalizeMembership(m: Membership): Membership {
  return { voters: sorted(new Set(m.voters)), learners: sorted(new Set(m.learners)) };
}

export function describeMembership(m: Membership): string {
  return `voters=(${m.voters.join(",")}) learners=(${m.learners.join(",")})`;
}

interface IndexedChange {
  readonly index: number;
  readonly change: ConfChange;
}

interface IndexedMembership {
  readonly index: number;
  readonly membership: Membership;
}

export class MembershipTracker {
  /** The committed membership. */
  private current: Membership;
  private committedIndex: number;
  /** Conf-change entries in the log above committedIndex, ascending. */
  private pending: IndexedChange[] = [];
  /** Memberships after each committed change since `base`, ascending. */
  private history: IndexedMembership[] = [];
  private base: IndexedMembership;

  constructor(snapshotIndex: number, membership: Membership) {
    this.current = normalizeMembership(membership);
    this.committedIndex = snapshotIndex;
    this.base = { index: snapshotIndex, membership: this.current };
  }

  get membership(): Membership {
    return this.current;
  }

  /**
   * The membership once every conf change in the log commits: whom this node may still hear
   * from as a member. (Changes take effect at commit; this is only for filtering, see RaftNode.)
   */
  latest(): Membership {
    let m = this.current;
    for (const p of this.pending) m = applyConfChange(m, p.change);
    return m;
  }

  /** The last conf-change index in the log (committed or not), or 0. */
  lastChangeIndex(): number {
    const p = this.pending[this.pending.length - 1];
    if (p !== undefined) return p.index;
    const h = this.history[this.history.length - 1];
    return h?.index ?? 0;
  }

  /** Entries were appended to the log (after any truncation was reported). */
  appended(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.type !== "conf-change") continue;
      assert(e.index > this.committedIndex, "membership: conf change appended at or below commit");
      this.pending.push({ index: e.index, change: e.change });
    }
  }

  /** The log was truncated: entries at `index` and above are gone. */
  truncatedFrom(index: number): void {
    assert(index > this.committedIndex, "membership: truncation below commit");
    while (this.pending.length > 0 && (this.pending[this.pending.length - 1] as IndexedChange).index >= index) {
      this.pending.pop();
    }
  }

  /** The commit index moved to `index`: apply the changes it passed, in order, and return them. */
  committed(index: number): IndexedChange[] {
    if (index <= this.committedIndex) return [];
    this.committedIndex = index;
    const applied: IndexedChange[] = [];
    while (this.pending.length > 0 && (this.pending[0] as IndexedChange).index <= index) {
      const c = this.pending.shift() as IndexedChange;
      this.current = applyConfChange(this.current, c.change);
      this.history.push({ index: c.index, membership: this.current });
      applied.push(c);
    }
    return applied;
  }

  /** The membership as of `index` (base index <= index <= commit). */
  at(index: number): Membership {
    assert(index >= this.base.index && index <= this.committedIndex, `membership: no record at ${index}`);
    let m = this.base.membership;
    for (const h of this.history) {
      if (h.index > index) break;
      m = h.membership;
    }
    return m;
  }

  /** Log compaction at `index`: history at or below it is folded into the base. */
  compacted(index: number): void {
    const m = this.at(index);
    this.base = { index, membership: m };
    this.history = this.history.filter((h) => h.index > index);
  }

  /** The whole log was replaced by a snapshot. */
  restored(index: number, membership: Membership): void {
    this.current = normalizeMembership(membership);
    this.committedIndex = index;
    this.base = { index, membership: this.current };
    this.pending = [];
    this.history = [];
  }
}
