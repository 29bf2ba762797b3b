// CheckQuorum with checkQuorumRounds (config.ts): a leader steps down only after that many rounds
// of electionTicks in a row without hearing from a quorum; one answer resets the count; the lease
// (a leader refuses pre-votes) holds through every round.
import { describe, expect, it } from "vitest";
import { RaftNode, bootstrapState } from "../../../src/raft/raft-node.js";
import type { NodeId } from "../../../src/raft/types.js";
import { drain, pump } from "./ready-pump.js";

const VOTERS = ["1", "2", "3"];
const ELECTION_TICKS = 10;

function cluster(checkQuorumRounds?: number): Map<NodeId, RaftNode> {
  const cfg = (id: NodeId) => ({
    id,
    random: () => 0,
    preVote: true,
    checkQuorum: true,
    electionTicks: ELECTION_TICKS,
    ...(checkQuorumRounds === undefined ? {} : { checkQuorumRounds }),
  });
  return new Map(VOTERS.map((id) => [id, new RaftNode(cfg(id), bootstrapState({ voters: VOTERS, learners: [] }))]));
}

/** Node 1 elected, then `ticks` ticks of the leader whose messages go nowhere (its followers silent). */
function silentTicks(leader: RaftNode, ticks: number): void {
  for (let i = 0; i < ticks; i++) {
    leader.tick();
    drain(leader);
  }
}

/**
 * Node 1 elected, and its first CheckQuorum round over: that one counts the answers of the
 * election itself, so the rounds after it start with a clean slate.
 */
function electedLeader(nodes: Map<NodeId, RaftNode>): RaftNode {
  const leader = nodes.get("1")!;
  leader.campaign();
  pump(nodes);
  silentTicks(leader, ELECTION_TICKS);
  expect(leader.status().role).toBe("leader");
  return leader;
}

describe("CheckQuorum rounds", () => {
  it("one silent round deposes a leader by default (etcd)", () => {
    const leader = electedLeader(cluster());
    silentTicks(leader, ELECTION_TICKS - 1);
    expect(leader.status().role).toBe("leader");
    silentTicks(leader, 1);
    expect(leader.status().role).toBe("follower");
  });

  it("with 2 rounds a leader keeps its place through one silent round, and an answer resets the count", () => {
    const nodes = cluster(2);
    const leader = electedLeader(nodes);
    const term = leader.status().term;
    silentTicks(leader, ELECTION_TICKS); // round 1: nobody answered
    expect(leader.status().role).toBe("leader");
    // Round 2: follower 2 answers one heartbeat, late in the round.
    silentTicks(leader, ELECTION_TICKS - 2);
    leader.tick();
    const follower = nodes.get("2")!;
    for (const m of drain(leader).filter((x) => x.to === "2")) follower.step(m);
    for (const r of drain(follower)) leader.step(r);
    silentTicks(leader, 1);
    expect(leader.status().role).toBe("leader");
    silentTicks(leader, ELECTION_TICKS); // round 3: silent again, but only one in a row
    expect(leader.status().role).toBe("leader");
    silentTicks(leader, ELECTION_TICKS); // round 4: the second in a row
    expect(leader.status()).toMatchObject({ role: "follower", term });
  });

  it("a leader in its second silent round still refuses a pre-vote (the lease is not stretched)", () => {
    const nodes = cluster(2);
    const leader = electedLeader(nodes);
    silentTicks(leader, ELECTION_TICKS + ELECTION_TICKS / 2);
    const { term } = leader.status();
    const last = leader.status().lastIndex;
    leader.step({
      type: "pre-vote",
      from: "3",
      to: "1",
      term: term + 1,
      lastIndex: last,
      lastTerm: term,
      commit: 0,
      commitTerm: 0,
    });
    const granted = drain(leader).filter((m) => m.type === "pre-vote-response" && m.reject === false);
    expect(granted).toEqual([]);
    expect(leader.status()).toMatchObject({ role: "leader", term });
  });
});
