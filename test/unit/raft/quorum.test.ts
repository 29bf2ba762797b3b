// The quorum functions against deliberately naive versions on random inputs (as etcd's
// quorum/quick_test.go does), plus the cases worth reading.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { committedIndex, hasQuorum, majority, voteResult } from "../../../src/raft/quorum.js";

/** Naive: the largest index i such that at least a majority of voters acked >= i. */
function naiveCommittedIndex(acks: readonly number[]): number {
  if (acks.length === 0) return 0;
  let best = 0;
  for (const candidate of acks) {
    const count = acks.filter((a) => a >= candidate).length;
    if (count * 2 > acks.length && candidate > best) best = candidate;
  }
  return best;
}

function naiveVoteResult(n: number, granted: number, rejected: number): "won" | "lost" | "pending" {
  if (n === 0) return "won";
  if (granted * 2 > n) return "won";
  // Even if every missing voter granted, no majority.
  if ((n - rejected) * 2 <= n) return "lost";
  return "pending";
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i + 1}`);

describe("quorum", () => {
  it("majority of n is floor(n/2)+1", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it("committedIndex: the median-like index a majority has (§5.3)", () => {
    const acked = new Map([
      ["a", 5],
      ["b", 3],
      ["c", 9],
    ]);
    expect(committedIndex(["a", "b", "c"], (id) => acked.get(id))).toBe(5);
    expect(committedIndex(["a", "b", "c", "d"], (id) => acked.get(id))).toBe(3); // d unknown = 0
    expect(committedIndex([], () => 7)).toBe(0);
  });

  it("committedIndex agrees with the naive version on random inputs", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 20 }), { minLength: 0, maxLength: 9 }), (acks) => {
        const voters = ids(acks.length);
        const got = committedIndex(voters, (id) => acks[Number(id.slice(1)) - 1]);
        expect(got).toBe(naiveCommittedIndex(acks));
      }),
      { numRuns: 5000 },
    );
  });

  it("voteResult agrees with the naive version on random inputs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), { maxLength: 9 }),
        (answers) => {
          const voters = ids(answers.length);
          const votes = new Map<string, boolean>();
          answers.forEach((a, i) => {
            if (a !== undefined) votes.set(voters[i] as string, a);
          });
          // Votes from non-voters never count.
          votes.set("stranger", true);
          const granted = answers.filter((a) => a === true).length;
          const rejected = answers.filter((a) => a === false).length;
          expect(voteResult(voters, votes)).toBe(naiveVoteResult(answers.length, granted, rejected));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("a split vote in a 4-node group is lost only once 2 reject", () => {
    const voters = ids(4);
    expect(
      voteResult(
        voters,
        new Map([
          ["n1", true],
          ["n2", true],
        ]),
      ),
    ).toBe("pending");
    expect(
      voteResult(
        voters,
        new Map([
          ["n1", true],
          ["n2", false],
        ]),
      ),
    ).toBe("pending");
    expect(
      voteResult(
        voters,
        new Map([
          ["n1", true],
          ["n2", false],
          ["n3", false],
        ]),
      ),
    ).toBe("lost");
    expect(
      voteResult(
        voters,
        new Map([
          ["n1", true],
          ["n2", true],
          ["n3", true],
        ]),
      ),
    ).toBe("won");
  });

  it("hasQuorum counts only voters", () => {
    expect(hasQuorum(ids(3), (id) => id === "n1" || id === "n3")).toBe(true);
    expect(hasQuorum(ids(3), (id) => id === "n1")).toBe(false);
    expect(hasQuorum(ids(5), (id) => id !== "n4" && id !== "n5")).toBe(true);
  });
});
