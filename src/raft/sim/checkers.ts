// Safety checkers that run throughout a simulation. Each throws a SafetyViolation naming the
// property (Figure 3 of the Raft paper) and the evidence.
import { applyConfChange, describeMembership } from "../membership.js";
import type { Entry, Membership, NodeId } from "../types.js";
import { entryDigest } from "./state-machine.js";

export class SafetyViolation extends Error {
  readonly property: string;
  constructor(property: string, detail: string) {
    super(`${property}: ${detail}`);
    this.name = "SafetyViolation";
    this.property = property;
  }
}

function violation(property: string, detail: string): never {
  throw new SafetyViolation(property, detail);
}

interface StoredEntry {
  readonly digest: string;
  readonly prevTerm: number;
}

interface AppliedEntry {
  readonly term: number;
  readonly digest: string;
  /** The state machine's chain hash after applying this index. */
  readonly chain: number;
  readonly firstNode: NodeId;
}

export class Checkers {
  /** Election Safety: term -> the leader elected in it. */
  private readonly leaders = new Map<number, NodeId>();
  /** Log Matching: "index@term" -> the entry's content and its predecessor's term. */
  private readonly stored = new Map<string, StoredEntry>();
  /** State Machine Safety: index -> what was applied there (by anyone). */
  private readonly applied: Array<AppliedEntry | undefined> = [];
  /** index -> the lowest term of a leader seen advancing its commit index over it. */
  private readonly commitTerms: Array<number | undefined> = [];
  /** Configuration safety: the membership after each applied conf change, ascending by index. */
  private readonly memberships: Array<{ index: number; membership: Membership }>;
  checks = 0;

  constructor(bootstrap: Membership) {
    this.memberships = [{ index: 1, membership: bootstrap }];
  }

  /** The membership every node must agree on as of `index` (conf changes applied up to it). */
  private membershipAt(index: number): Membership {
    let m = (this.memberships[0] as { membership: Membership }).membership;
    for (const r of this.memberships) {
      if (r.index > index) break;
      m = r.membership;
    }
    return m;
  }

  /** A snapshot (taken or received) must carry the membership of its index exactly. */
  snapshotMembership(node: NodeId, index: number, m: Membership): void {
    this.checks++;
    if (this.applied[index] === undefined && index !== 1) return;
    const want = describeMembership(this.membershipAt(index));
    const got = describeMembership(m);
    if (want !== got)
      violation("configuration safety", `${node} has a snapshot at ${index} with ${got}; the log says ${want}`);
  }

  /** Election Safety (§5.2): at most one leader per term. */
  leaderElected(node: NodeId, term: number): void {
    this.checks++;
    const other = this.leaders.get(term);
    if (other !== undefined && other !== node)
      violation("election safety", `${other} and ${node} both leader in term ${term}`);
    this.leaders.set(term, node);
  }

  /**
   * Log Matching (§5.3), checked inductively when a node persists entries: an entry with a given
   * index and term always has the same content and the same predecessor term. By induction two
   * logs that share an index@term share the whole prefix.
   */
  entriesPersisted(node: NodeId, entries: readonly Entry[], termBefore: (index: number) => number | undefined): void {
    let prevTerm = entries[0] === undefined ? undefined : termBefore(entries[0].index - 1);
    for (const e of entries) {
      this.checks++;
      const key = `${e.index}@${e.term}`;
      const digest = entryDigest(e);
      const known = this.stored.get(key);
      if (prevTerm === undefined) violation("log matching", `${node} stored ${key} with no entry before it`);
      if (known === undefined) {
        this.stored.set(key, { digest, prevTerm });
      } else {
        if (known.digest !== digest)
          violation("log matching", `${node} has ${key} = ${digest}, another node ${known.digest}`);
        if (known.prevTerm !== prevTerm)
          violation(
            "log matching",
            `${node} has ${key} after term ${prevTerm}, another node after term ${known.prevTerm}`,
          );
      }
      prevTerm = e.term;
    }
  }

  /** State Machine Safety (§5.4.3): no two nodes apply different entries at one index. */
  entryApplied(node: NodeId, e: Entry, chain: number): void {
    this.checks++;
    const known = this.applied[e.index];
    const digest = entryDigest(e);
    if (known === undefined) {
      this.applied[e.index] = { term: e.term, digest, chain, firstNode: node };
      if (e.type === "conf-change") {
        const last = this.memberships[this.memberships.length - 1] as { index: number; membership: Membership };
        if (e.index <= last.index)
          violation("configuration safety", `conf change at ${e.index} applied after one at ${last.index}`);
        this.memberships.push({ index: e.index, membership: applyConfChange(last.membership, e.change) });
      }
      return;
    }
    if (known.term !== e.term || known.digest !== digest) {
      violation(
        "state machine safety",
        `${node} applied ${e.index}@${e.term} ${digest}; ` +
          `${known.firstNode} applied ${e.index}@${known.term} ${known.digest}`,
      );
    }
    if (known.chain !== chain)
      violation(
        "state machine safety",
        `${node} reached state ${chain} at ${e.index}; ${known.firstNode} reached ${known.chain}`,
      );
  }

  /** A node restored a snapshot: its state must be the state every node had at that index. */
  snapshotRestored(node: NodeId, index: number, term: number, chain: number): void {
    this.checks++;
    const known = this.applied[index];
    if (known === undefined) return; // Only the bootstrap snapshot precedes every application.
    if (known.term !== term)
      violation(
        "state machine safety",
        `${node} restored a snapshot at ${index}@${term}; ${index}@${known.term} was applied`,
      );
    if (known.chain !== chain)
      violation(
        "state machine safety",
        `${node} restored state ${chain} at ${index}; applied state there is ${known.chain}`,
      );
  }

  /** The leader of `term` advanced its commit index from `from` (exclusive) to `to`. */
  leaderCommitted(term: number, from: number, to: number): void {
    for (let i = from + 1; i <= to; i++) {
      const t = this.commitTerms[i];
      if (t === undefined || term < t) this.commitTerms[i] = term;
    }
  }

  /** Highest index applied anywhere. */
  appliedMax(): number {
    return this.applied.length - 1;
  }

  appliedTerm(index: number): number | undefined {
    return this.applied[index]?.term;
  }

  /** The state (chain) every node must have after applying `index`, if anyone applied it. */
  appliedChain(index: number): number | undefined {
    return this.applied[index]?.chain;
  }

  /**
   * Leader Completeness (§5.4): an entry committed in term U (by the leader of U) is in the log of
   * every leader of a term above U. (Not "every entry of a term below T": an old entry may be
   * committed later, in a term above a stale leader's.) Entries below the leader's snapshot are
   * covered by it.
   */
  leaderComplete(
    node: NodeId,
    term: number,
    firstIndex: number,
    lastIndex: number,
    termAt: (index: number) => number | undefined,
  ): void {
    for (let i = Math.max(firstIndex, 1); i < this.applied.length; i++) {
      const a = this.applied[i];
      const committedIn = this.commitTerms[i];
      if (a === undefined || committedIn === undefined || committedIn >= term) continue;
      this.checks++;
      if (i > lastIndex)
        violation(
          "leader completeness",
          `leader ${node} of term ${term} ends at ${lastIndex}, but ${i}@${a.term} was applied`,
        );
      const t = termAt(i);
      if (t !== a.term)
        violation(
          "leader completeness",
          `leader ${node} of term ${term} has ${i}@${t}, but ${i}@${a.term} was applied`,
        );
    }
  }
}
