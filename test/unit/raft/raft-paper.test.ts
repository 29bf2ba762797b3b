// Tests that check the rules of the Raft paper (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm", 2014) one by one, each naming the section it covers.
// Method (as in etcd's raft_paper_test.go): build nodes in a known state, step messages or
// ticks, and check the resulting state and messages.
import { describe, expect, it } from "vitest";
import {
  ConfChangeRejectedError,
  InvalidConfigError,
  InvalidStateError,
  NotLeaderError,
  ProposalDroppedError,
  TransferRejectedError,
} from "../../../src/raft/errors.js";
import { RaftNode, bootstrapState } from "../../../src/raft/raft-node.js";
import type { Entry, Message, NodeId, PersistedState } from "../../../src/raft/types.js";
import { drain, pump } from "./ready-pump.js";

const VOTERS = ["1", "2", "3"];

function node(
  id: NodeId,
  opts: { random?: () => number; preVote?: boolean; checkQuorum?: boolean; state?: PersistedState } = {},
): RaftNode {
  return new RaftNode(
    { id, random: opts.random ?? (() => 0), preVote: opts.preVote ?? false, checkQuorum: opts.checkQuorum ?? false },
    opts.state ?? bootstrapState({ voters: VOTERS, learners: [] }),
  );
}

/** A vote request (not a transfer) that teaches no commit index. */
function voteRequest(from: NodeId, to: NodeId, term: number, lastIndex: number, lastTerm: number): Message {
  return { type: "vote", from, to, term, lastIndex, lastTerm, transfer: false, commit: 0, commitTerm: 0 };
}

function cluster(opts: Parameters<typeof node>[1] = {}): Map<NodeId, RaftNode> {
  return new Map(VOTERS.map((id) => [id, node(id, opts)]));
}

function stateWithLog(terms: number[], term: number): PersistedState {
  const entries: Entry[] = terms.map((t, i) => ({ type: "noop", index: i + 2, term: t }));
  const base = bootstrapState({ voters: VOTERS, learners: [] });
  return { ...base, hardState: { term, vote: null, commit: 1 }, entries };
}

describe("§5.1 terms", () => {
  it("a node that sees a higher term adopts it and becomes a follower", () => {
    const nodes = cluster();
    const one = nodes.get("1") as RaftNode;
    one.campaign();
    pump(nodes);
    expect(one.status().role).toBe("leader");
    one.step({
      type: "append-response",
      from: "2",
      to: "1",
      term: 9,
      reject: false,
      index: 0,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(one.status()).toMatchObject({ role: "follower", term: 9, vote: null });
  });

  it("a request from an older term is rejected with the current term, so the sender catches up", () => {
    const n = node("1", { state: stateWithLog([], 5) });
    n.step(voteRequest("2", "1", 4, 9, 4));
    expect(drain(n)).toMatchObject([{ type: "vote-response", to: "2", term: 5, reject: true }]);
    expect(n.status()).toMatchObject({ term: 5, vote: null });
  });
});

describe("§5.2 leader election", () => {
  it("the election timeout is drawn from [electionTicks, 2*electionTicks) with the injected random", () => {
    for (const [r, ticks] of [
      [0, 10],
      [0.5, 15],
      [0.999, 19],
    ] as const) {
      const n = node("1", { random: () => r });
      for (let i = 0; i < ticks - 1; i++) n.tick();
      expect(n.status().role).toBe("follower");
      n.tick();
      expect(n.status().role).toBe("candidate");
    }
  });

  it("a candidate with votes from a majority becomes leader", () => {
    const nodes = cluster();
    (nodes.get("2") as RaftNode).campaign();
    pump(nodes);
    expect([...nodes.values()].map((n) => n.status().leader)).toEqual(["2", "2", "2"]);
  });

  it("each node votes for at most one candidate per term, first come first served", () => {
    const n = node("3");
    n.step(voteRequest("1", "3", 2, 1, 1));
    n.step(voteRequest("2", "3", 2, 1, 1));
    const answers = drain(n).map((m) => (m.type === "vote-response" ? [m.to, m.reject] : null));
    expect(answers).toEqual([
      ["1", false],
      ["2", true],
    ]);
    // The same candidate asking again (a retransmission) is granted again.
    n.step(voteRequest("1", "3", 2, 1, 1));
    expect(drain(n)).toMatchObject([{ type: "vote-response", reject: false }]);
  });

  it("a candidate that hears from a leader of its term steps back to follower", () => {
    const n = node("1");
    n.campaign();
    drain(n);
    n.step({ type: "heartbeat", from: "2", to: "1", term: 2, commit: 1, context: null });
    expect(n.status()).toMatchObject({ role: "follower", leader: "2", term: 2 });
  });
});

describe("§5.3 log replication", () => {
  it("a follower rejects an append whose previous entry does not match, with a hint", () => {
    const n = node("2", { state: stateWithLog([1, 1, 2], 2) }); // indexes 2,3,4
    n.step({ type: "append", from: "1", to: "2", term: 3, prevIndex: 4, prevTerm: 3, entries: [], commit: 1 });
    expect(drain(n)).toMatchObject([{ type: "append-response", reject: true, index: 4, hintIndex: 4, hintTerm: 2 }]);
  });

  it("conflicting entries are deleted and replaced by the leader's (Log Matching)", () => {
    const n = node("2", { state: stateWithLog([1, 1, 2], 2) });
    const entries: Entry[] = [
      { type: "noop", index: 4, term: 3 },
      { type: "noop", index: 5, term: 3 },
    ];
    n.step({ type: "append", from: "1", to: "2", term: 3, prevIndex: 3, prevTerm: 1, entries, commit: 1 });
    const rd = n.ready();
    expect(rd.entries.map((e) => `${e.index}@${e.term}`)).toEqual(["4@3", "5@3"]); // replaces 4@2
    expect(rd.messages).toMatchObject([{ type: "append-response", reject: false, index: 5 }]);
    expect(n.termAt(4)).toBe(3);
  });

  it("the follower's commit index follows the leader's, bounded by the entries it has", () => {
    const n = node("2", { state: stateWithLog([1, 1], 1) });
    n.step({ type: "append", from: "1", to: "2", term: 1, prevIndex: 2, prevTerm: 1, entries: [], commit: 9 });
    expect(n.status().commit).toBe(2);
  });
});

describe("§5.4.1 election restriction", () => {
  it("a voter refuses a candidate whose log is less up to date", () => {
    const voter = node("3", { state: stateWithLog([1, 2], 2) }); // last 3@2
    const ask = (from: string, lastIndex: number, lastTerm: number, term: number) => {
      voter.step({ type: "vote", from, to: "3", term, lastIndex, lastTerm, transfer: false, commit: 0, commitTerm: 0 });
      const [m] = drain(voter);
      return m?.type === "vote-response" ? !m.reject : undefined;
    };
    expect(ask("1", 9, 1, 3)).toBe(false); // longer but older last term
    expect(ask("1", 2, 2, 4)).toBe(false); // same last term, shorter
    expect(ask("1", 3, 2, 5)).toBe(true); // same last term, as long
    expect(ask("2", 1, 3, 6)).toBe(true); // newer last term wins even if shorter
  });
});

describe("§5.4.2 committing entries from previous terms", () => {
  it("a new leader commits its predecessors' entries only through an entry of its own term", () => {
    const nodes = new Map(VOTERS.map((id) => [id, node(id, { state: stateWithLog([1, 1], 1) })]));
    const one = nodes.get("1") as RaftNode;
    one.campaign();
    // Only the vote responses flow; the no-op (4@2) has not been acknowledged yet.
    for (const m of drain(one)) (nodes.get(m.to) as RaftNode).step(m);
    for (const id of ["2", "3"]) for (const m of drain(nodes.get(id) as RaftNode)) one.step(m);
    expect(one.status()).toMatchObject({ role: "leader", commit: 1 });
    pump(nodes);
    expect(one.status().commit).toBe(4);
  });
});

describe("§6 membership changes", () => {
  it("one change at a time; a new leader accepts one only after committing its no-op", () => {
    const nodes = cluster();
    const one = nodes.get("1") as RaftNode;
    one.campaign();
    for (const m of drain(one)) nodes.get(m.to)?.step(m);
    for (const id of ["2", "3"]) for (const m of drain(nodes.get(id) as RaftNode)) one.step(m);
    expect(one.status()).toMatchObject({ role: "leader", commit: 1 });
    expect(() => one.proposeConfChange({ type: "add-learner", node: "4" })).toThrow(ConfChangeRejectedError);
    pump(nodes);
    one.proposeConfChange({ type: "add-learner", node: "4" });
    expect(() => one.proposeConfChange({ type: "remove", node: "3" })).toThrow(/in-progress/);
  });

  it("a leader whose own write completes the commit of its removal steps down at once", () => {
    const nodes = cluster();
    const one = nodes.get("1") as RaftNode;
    one.campaign();
    pump(nodes);
    one.proposeConfChange({ type: "remove", node: "1" });
    const rd = one.ready(); // the removal, written asynchronously; its appends go out meanwhile
    for (const m of rd.messages) if (m.to === "2") nodes.get("2")?.step(m);
    for (const m of drain(nodes.get("2") as RaftNode)) one.step(m);
    expect(one.status()).toMatchObject({ role: "leader", commit: 2 }); // 2's copy alone is not a majority
    one.advance(rd); // our write lands: 1 and 2 of the old voters hold it
    expect(one.status()).toMatchObject({ role: "follower", commit: 3 });
    expect(one.status().membership.voters).toEqual(["2", "3"]);
    const next = one.ready();
    expect(next.softState).toMatchObject({ role: "follower" });
    expect(next.committedEntries.map((e) => e.index)).toEqual([3]);
    // The others learn of the commit at once, and 2, caught up, is told to campaign.
    expect(next.messages.map((m) => `${m.type} ${m.to}`)).toEqual(["append 2", "append 3", "timeout-now 2"]);
  });

  it("a learner cannot be promoted before it has caught up", () => {
    const nodes = cluster();
    const one = nodes.get("1") as RaftNode;
    one.campaign();
    pump(nodes);
    one.proposeConfChange({ type: "add-learner", node: "4" });
    for (let i = 0; i < 80; i++) one.propose(new Uint8Array([i]));
    pump(nodes); // 4 does not exist: it never catches up
    expect(() => one.proposeConfChange({ type: "promote", node: "4" })).toThrow(/learner-behind/);
  });
});

describe("dissertation §4.2.3 disruptive servers", () => {
  it("a removed server that missed its removal cannot raise the others' terms (PreVote and CheckQuorum off)", () => {
    const nodes = cluster();
    const [one, two, three] = VOTERS.map((id) => nodes.get(id) as RaftNode) as [RaftNode, RaftNode, RaftNode];
    one.campaign();
    pump(nodes);
    one.proposeConfChange({ type: "remove", node: "3" });
    nodes.delete("3"); // 3 is cut off and never learns it was removed
    pump(nodes);
    one.tick(); // the heartbeat tells 2 that the removal committed
    pump(nodes);
    expect(one.status().membership.voters).toEqual(["1", "2"]);
    expect(two.status().membership.voters).toEqual(["1", "2"]);
    three.campaign();
    three.campaign();
    const requests = drain(three).filter((m) => m.type === "vote");
    expect(requests.length).toBeGreaterThan(0);
    for (const m of requests) nodes.get(m.to)?.step(m);
    expect(
      drain(one)
        .concat(drain(two))
        .filter((m) => m.type === "vote-response"),
    ).toEqual([]);
    expect(one.status()).toMatchObject({ role: "leader", term: 2 });
    expect(two.status()).toMatchObject({ term: 2, leader: "1" });
  });
});

describe("§9.6 PreVote", () => {
  it("a pre-candidate does not raise its term, and a refused pre-election changes no one's term", () => {
    const n = node("1", { preVote: true });
    n.campaign();
    expect(n.status()).toMatchObject({ role: "pre-candidate", term: 1 });
    n.step({ type: "pre-vote-response", from: "2", to: "1", term: 1, reject: true, commit: 1, commitTerm: 1 });
    n.step({ type: "pre-vote-response", from: "3", to: "1", term: 1, reject: true, commit: 1, commitTerm: 1 });
    expect(n.status()).toMatchObject({ role: "follower", term: 1 });
  });

  it("a candidate learns from a voter's answer that the removals in its log committed, and wins without them", () => {
    // Voters 1-4; entries 2 and 3 remove 4 and 3 (both committed by a leader now gone, but 1
    // never heard so). 3 and 4 are stopped: 1 alone cannot reach 3 of 4 votes.
    const remove = (index: number, node: NodeId): Entry => ({
      type: "conf-change",
      index,
      term: 1,
      change: { type: "remove", node },
    });
    const base = bootstrapState({ voters: ["1", "2", "3", "4"], learners: [] });
    const staleMember = (): RaftNode =>
      new RaftNode(
        { id: "1", random: () => 0, preVote: true, checkQuorum: true },
        { ...base, hardState: { term: 1, vote: null, commit: 1 }, entries: [remove(2, "4"), remove(3, "3")] },
      );
    const n = staleMember();
    n.campaign();
    // A wrong term at index 3 is not the same entry: nothing learned, no quorum.
    n.step({ type: "pre-vote-response", from: "2", to: "1", term: 2, reject: false, commit: 3, commitTerm: 9 });
    expect(n.status()).toMatchObject({ role: "pre-candidate", commit: 1 });
    n.step({ type: "pre-vote-response", from: "2", to: "1", term: 2, reject: false, commit: 3, commitTerm: 1 });
    expect(n.status().commit).toBe(3);
    expect(n.status().membership.voters).toEqual(["1", "2"]);
    expect(n.status().role).toBe("candidate");
    // A campaign's request teaches too: a fresh node with the same log hears 2's pre-vote.
    const m = staleMember();
    const ask = { from: "2", to: "1", term: 2, lastIndex: 3, lastTerm: 1, commit: 3, commitTerm: 1 } as const;
    m.step({ type: "pre-vote", ...ask });
    expect(m.status()).toMatchObject({ role: "follower", commit: 3 });
    expect(m.status().membership.voters).toEqual(["1", "2"]);
  });
});

describe("API contract", () => {
  it("proposals on a follower fail with the leader's address", () => {
    const nodes = cluster();
    (nodes.get("2") as RaftNode).campaign();
    pump(nodes);
    const err = (() => {
      try {
        (nodes.get("1") as RaftNode).propose(new Uint8Array([1]));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toBe("2");
  });

  it("a leader drops proposals beyond its limits, naming the reason", () => {
    const ids = ["1", "2", "3"];
    const one = new RaftNode(
      { id: "1", random: () => 0, uncommittedBytesMax: 100, entryBytesMax: 60 },
      bootstrapState({ voters: ids, learners: [] }),
    );
    const nodes = new Map<NodeId, RaftNode>([
      ["1", one],
      ["2", node("2")],
      ["3", node("3")],
    ]);
    one.campaign();
    pump(nodes);
    expect(() => one.propose(new Uint8Array(61))).toThrow(/entry-too-large/);
    one.propose(new Uint8Array(60));
    const err = (() => {
      try {
        one.propose(new Uint8Array(60)); // 120 uncommitted bytes > 100, nothing committed yet
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ProposalDroppedError);
    expect((err as ProposalDroppedError).reason).toBe("uncommitted-limit");
    pump(nodes); // the first commits: room again
    expect(one.propose(new Uint8Array(60)).index).toBeGreaterThan(0);
  });

  it("leadership transfer is refused to a non-voter and by a follower", () => {
    const nodes = cluster();
    const one = nodes.get("1") as RaftNode;
    one.campaign();
    pump(nodes);
    expect(() => one.transferLeadership("9")).toThrow(TransferRejectedError);
    expect(() => one.transferLeadership("1")).toThrow(/already the leader/);
    expect(() => (nodes.get("2") as RaftNode).transferLeadership("3")).toThrow(NotLeaderError);
  });

  it("ready() twice without advance() is a programming error", () => {
    const n = node("1");
    n.campaign();
    n.ready();
    expect(() => n.ready()).toThrow(/before advance/);
  });

  it("options are validated eagerly, naming the option", () => {
    expect(
      () =>
        new RaftNode(
          { id: "1", random: () => 0, electionTicks: 2, heartbeatTicks: 2 },
          bootstrapState({ voters: ["1"], learners: [] }),
        ),
    ).toThrow(InvalidConfigError);
    expect(
      () =>
        new RaftNode(
          { id: "1", random: () => 0, inflightAppendsMax: 0 },
          bootstrapState({ voters: ["1"], learners: [] }),
        ),
    ).toThrow(/inflightAppendsMax=0/);
  });

  it("persisted state is checked when loaded", () => {
    const bad = { ...stateWithLog([1, 1], 1), entries: [{ type: "noop" as const, index: 3, term: 1 }] };
    expect(() => node("1", { state: bad })).toThrow(InvalidStateError);
  });

  it("a single voter commits alone", () => {
    const n = new RaftNode({ id: "solo", random: () => 0 }, bootstrapState({ voters: ["solo"], learners: [] }));
    n.campaign();
    n.campaign(); // PreVote, then the election, both won alone
    expect(n.status().role).toBe("leader");
    const pos = n.propose(new TextEncoder().encode("x"));
    const rd = n.ready();
    expect(rd.entries.map((e) => e.index)).toContain(pos.index);
    // Its own copy counts once durable: the Ready after the write hands the entry out committed.
    expect(rd.committedEntries.map((e) => e.index)).not.toContain(pos.index);
    n.advance(rd);
    expect(n.ready().committedEntries.map((e) => e.index)).toContain(pos.index);
  });

  it("a leader hands out appends and committed entries while its write is outstanding", () => {
    const n = node("1");
    n.campaign();
    expect(n.hasPartialReady()).toBe(false); // not a leader
    n.advance(n.ready()); // the vote, durable
    n.step({ type: "vote-response", from: "2", to: "1", term: 2, reject: false, commit: 1, commitTerm: 1 });
    expect(n.status().role).toBe("leader");
    const first = n.ready(); // the no-op, with the appends that carry it; now being written
    const noop = first.entries[0] as { index: number };
    const ack = (from: NodeId, index: number): Message => ({
      type: "append-response",
      from,
      to: "1",
      term: 2,
      reject: false,
      index,
      hintIndex: 0,
      hintTerm: 0,
    });
    n.step(ack("2", noop.index));
    // Follower 2 has it durably, but ours is not: no commit yet, nor does a second full Ready come.
    expect(n.hasReady()).toBe(false);
    expect(n.status().commit).toBeLessThan(noop.index);
    const pos = n.propose(new TextEncoder().encode("x"));
    expect(n.hasPartialReady()).toBe(true);
    const partial = n.partialReady();
    expect(partial.entries).toEqual([]);
    expect(partial.hardState).toBeNull();
    const sent = partial.messages.filter((m) => m.type === "append").flatMap((m) => m.entries.map((e) => e.index));
    expect(sent).toContain(pos.index); // replicated before our own write of it
    // Followers 2 and 3 acknowledge both: a quorum without us, so both commit.
    n.step(ack("2", pos.index));
    n.step(ack("3", pos.index));
    expect(n.status().commit).toBe(pos.index);
    const committed = n.partialReady().committedEntries.map((e) => e.index);
    expect(committed).toEqual([noop.index, pos.index]);
    // The full Ready after the write does not hand them out again.
    n.advance(first);
    expect(n.ready().committedEntries).toEqual([]);
  });
});
