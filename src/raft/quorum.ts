// Majority quorums as pure functions over a voter list (one configuration at a time: membership
// changes add or remove one server, so no joint quorums are needed). Checked against a naive
// version on random inputs in test/unit/raft/quorum.test.ts.
import type { NodeId } from "./types.js";

/** Votes needed to win among `voterCount` voters. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters have acknowledged (§5.3, §5.4.2; the caller still
 * checks the term of that entry). `acked(id)` is the voter's match index, or undefined if unknown
 * (counts as 0). With no voters nothing is committed: 0.
 */
export function committedIndex(voters: readonly NodeId[], acked: (id: NodeId) => number | undefined): number {
  const n = voters.length;
  if (n === 0) return 0;
  // n is small (a handful of masters): a sorted copy is cheaper than anything clever.
  const indexes = new Array<number>(n);
  for (let i = 0; i < n; i++) indexes[i] = acked(voters[i] as NodeId) ?? 0;
  indexes.sort((a, b) => b - a);
  return indexes[majority(n) - 1] as number;
}

export type VoteResult = "won" | "lost" | "pending";

/** Tally an election: `votes` holds the answers received so far (true = granted). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const n = voters.length;
  if (n === 0) return "won"; // Mirrors committedIndex's convention; callers never campaign without voters.
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = majority(n);
  if (granted >= q) return "won";
  if (n - rejected < q) return "lost";
  return "pending";
}

/** True when the members in `active` form a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (active(id)) count++;
  return count >= majority(voters.length);
}
