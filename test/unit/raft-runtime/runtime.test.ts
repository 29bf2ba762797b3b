// Three (and more) RaftRuntimes in one process on loopback gRPC, real LevelDB in temp dirs.
import { afterEach, describe, expect, it } from "vitest";
import {
  LeadershipLostError,
  NotLeaderError,
  RaftAbortedError,
  RaftClosedError,
  RaftTimeoutError,
} from "../../../src/raft/runtime/errors.js";
import { encodePut } from "../../../src/raft/runtime/kv-example/kv-state-machine.js";
import { realClock, type RuntimeClock } from "../../../src/raft/runtime/ports.js";
import { FAST, TestCluster, text } from "./cluster.js";
import { waitFor } from "../../helpers.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function start(ids = ["n1", "n2", "n3"], extra = {}): Promise<TestCluster> {
  cluster = await TestCluster.start(ids, extra);
  return cluster;
}

describe("RaftRuntime cluster", () => {
  it("elects one leader; proposals resolve with the state machine's answer and replicate everywhere", async () => {
    const c = await start();
    const leader = await c.leader();
    const r1 = await leader.rt.propose(encodePut("a", Buffer.from("1")));
    const r2 = await leader.rt.propose(encodePut("a", Buffer.from("2")));
    expect(r1.existed).toBe(false);
    expect(r2).toEqual({ index: r1.index + 1, existed: true });
    // Concurrent proposals are group-committed and resolve in log order.
    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) => leader.rt.propose(encodePut(`k${i}`, Buffer.from(String(i))))),
    );
    expect(many.map((r) => r.index)).toEqual(many.map((_, i) => r2.index + 1 + i));
    await c.allApplied(r2.index + 50);
    for (const n of c.nodes.values()) {
      expect(text(n.sm.get("a"))).toBe("2");
      expect(text(n.sm.get("k49"))).toBe("49");
    }
    const st = leader.rt.status();
    expect(st.role).toBe("leader");
    expect(st.members.map((m) => [m.id, m.suffrage])).toEqual([
      ["n1", "voter"],
      ["n2", "voter"],
      ["n3", "voter"],
    ]);
    expect(st.members.every((m) => (m.match ?? 0) >= r2.index)).toBe(true);
  });

  it("a follower refuses proposals with NotLeaderError naming the leader, and serves linearizable reads", async () => {
    const c = await start();
    const leader = await c.leader();
    const follower = c.followers(leader)[0]!;
    const err = await follower.rt.propose(encodePut("x", Buffer.from("y"))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toBe(leader.id);
    expect(follower.rt.status().leaderAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const { index } = await leader.rt.propose(encodePut("x", Buffer.from("from-leader")));
    // ReadIndex through the follower: the read point covers the acknowledged write.
    const readAt = await follower.rt.readIndex();
    expect(readAt).toBeGreaterThanOrEqual(index);
    expect(text(follower.sm.get("x"))).toBe("from-leader");
    // Many concurrent reads share read index requests.
    const reads = await Promise.all(Array.from({ length: 20 }, () => follower.rt.readIndex()));
    expect(Math.min(...reads)).toBeGreaterThanOrEqual(index);
  });

  it("transfers leadership to a named follower (TimeoutNow)", async () => {
    const c = await start();
    const leader = await c.leader();
    await leader.rt.propose(encodePut("before", Buffer.from("1")));
    const target = c.followers(leader)[1]!;
    await expect(leader.rt.transferLeadership(target.id)).resolves.toBe(target.id);
    const next = await c.leader();
    expect(next.id).toBe(target.id);
    const r = await target.rt.propose(encodePut("after", Buffer.from("2")));
    await c.allApplied(r.index);
    expect(text(leader.sm.get("after"))).toBe("2");
  });

  it("adds a 4th node as a learner, promotes it, then removes it", async () => {
    const c = await start();
    const leader = await c.leader();
    for (let i = 0; i < 20; i++) await leader.rt.propose(encodePut(`k${i}`, Buffer.from(String(i))));
    const n4 = await c.startNode("n4"); // no bootstrap: waits to be added
    const events: string[] = [];
    leader.rt.on("membership-changed", ({ membership }) =>
      events.push(`voters=${membership.voters.join(",")} learners=${membership.learners.join(",")}`),
    );
    const added = await leader.rt.addLearner("n4");
    expect(added.membership.learners).toEqual(["n4"]);
    await waitFor(() => text(n4.sm.get("k19")) === "19", { what: "n4 caught up" });
    expect(n4.rt.status().role).toBe("follower");
    const promoted = await leader.rt.promote("n4");
    expect(promoted.membership.voters).toEqual(["n1", "n2", "n3", "n4"]);
    const r = await leader.rt.propose(encodePut("with-4", Buffer.from("v")));
    await c.allApplied(r.index);
    const removed = await leader.rt.removeMember("n4");
    expect(removed.membership.voters).toEqual(["n1", "n2", "n3"]);
    expect(events).toEqual([
      "voters=n1,n2,n3 learners=n4",
      "voters=n1,n2,n3,n4 learners=",
      "voters=n1,n2,n3 learners=",
    ]);
    await c.stopNode("n4");
    // The group of three still commits.
    await expect(leader.rt.propose(encodePut("after-remove", Buffer.from("v")))).resolves.toMatchObject({
      existed: false,
    });
  });

  it("compacts its log and brings a new member up to date with InstallSnapshot", async () => {
    const c = await start(["n1", "n2", "n3"], { snapshotThreshold: 25 });
    const leader = await c.leader();
    let last = 0;
    for (let i = 0; i < 120; i++) last = (await leader.rt.propose(encodePut(`k${i % 40}`, Buffer.from(`v${i}`)))).index;
    // Concurrent bursts too: followers a few entries behind must not be sent whole snapshots.
    for (let b = 0; b < 4; b++) {
      const rs = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          leader.rt.propose(encodePut(`k${i}`, Buffer.from(`v${120 + b * 40 + i}`))),
        ),
      );
      last = rs[rs.length - 1]!.index;
    }
    await c.allApplied(last);
    await waitFor(() => leader.rt.status().firstIndex > 200, { what: "leader compacted" });
    for (const n of c.nodes.values()) expect(n.rt.status().snapshotsInstalled).toBe(0);
    const n4 = await c.startNode("n4");
    await leader.rt.addLearner("n4");
    await waitFor(
      () => {
        const s = n4.rt.status();
        return s.snapshotIndex > 1 && s.applied >= last;
      },
      { what: "n4 restored a snapshot and caught up" },
    );
    for (let i = 0; i < 40; i++) expect(text(n4.sm.get(`k${i}`))).toBe(`v${240 + i}`);
    expect(n4.rt.status().snapshotsInstalled).toBe(1);
    await leader.rt.promote("n4");
    const r = await leader.rt.propose(encodePut("post-snapshot", Buffer.from("ok")));
    await c.allApplied(r.index);
    expect(text(n4.sm.get("post-snapshot"))).toBe("ok");
  });

  it("a leader whose loop stalled past the election timeout claims nothing until a quorum confirms it", async () => {
    // The node's clock jumps as a stopped (SIGSTOP) process finds it on waking; the tick that
    // sees the jump is run by hand, and isLeader() is asked right after it, before any I/O.
    let offsetMs = 0;
    let tick: (() => void) | undefined;
    const clock: RuntimeClock = {
      ...realClock,
      now: () => realClock.now() + offsetMs,
      setInterval: (fn, ms) => {
        if (ms === FAST.tickMs) tick = fn;
        return realClock.setInterval(fn, ms);
      },
    };
    const c = await start(["n1"], { clock });
    const leader = await c.leader();
    const term = leader.rt.status().term;
    expect(leader.rt.isLeader()).toBe(true);
    offsetMs += 50 * FAST.electionTicks * FAST.tickMs;
    tick!();
    expect(leader.rt.isLeader()).toBe(false);
    await waitFor(() => leader.rt.isLeader(), { what: "leading again once its read is confirmed" });
    expect(leader.rt.status().term).toBe(term); // the same leadership, confirmed: no election
  });

  it("keeps the log and state across close and reopen", async () => {
    const c = await start(["n1", "n2", "n3"], { snapshotThreshold: 30 });
    const leader = await c.leader();
    let last = 0;
    for (let i = 0; i < 45; i++) last = (await leader.rt.propose(encodePut(`k${i}`, Buffer.from(`v${i}`)))).index;
    await c.allApplied(last);
    const before = Object.fromEntries([...c.nodes.values()].map((n) => [n.id, n.rt.status()]));
    for (const id of ["n1", "n2", "n3"]) await c.stopNode(id);
    for (const id of ["n1", "n2", "n3"]) await c.startNode(id, { bootstrap: ["n1", "n2", "n3"] });
    for (const n of c.nodes.values()) {
      const s = n.rt.status();
      expect(s.lastIndex).toBeGreaterThanOrEqual(before[n.id]!.lastIndex);
      expect(s.term).toBeGreaterThanOrEqual(before[n.id]!.term);
    }
    const next = await c.leader();
    const readAt = await next.rt.readIndex();
    expect(readAt).toBeGreaterThanOrEqual(last);
    for (const n of c.nodes.values())
      await waitFor(() => text(n.sm.get("k44")) === "v44", { what: `${n.id} replayed` });
    await expect(next.rt.propose(encodePut("k0", Buffer.from("again")))).resolves.toMatchObject({ existed: true });
  });

  it("fails proposals it can no longer vouch for with outcome-unknown errors, and refuses after close", async () => {
    const c = await start();
    const leader = await c.leader();
    await leader.rt.propose(encodePut("a", Buffer.from("1")));
    for (const f of c.followers(leader)) await c.stopNode(f.id);
    // No quorum: the proposal cannot commit; CheckQuorum makes the leader step down.
    const err = await leader.rt
      .propose(encodePut("b", Buffer.from("2")), { timeoutMs: 2_000 })
      .catch((e: unknown) => e);
    expect(err instanceof LeadershipLostError || err instanceof RaftTimeoutError).toBe(true);
    expect((err as Error).message).toMatch(/outcome unknown/);
    await c.stopNode(leader.id);
    await expect(leader.rt.propose(encodePut("c", Buffer.from("3")))).rejects.toBeInstanceOf(RaftClosedError);
  });

  it("removes the leader itself: it steps down once the removal commits and the rest elect a leader", async () => {
    const c = await start();
    const leader = await c.leader();
    const roles: string[] = [];
    leader.rt.on("role-changed", ({ role }) => roles.push(role));
    const r = await leader.rt.removeMember(leader.id);
    expect(r.membership.voters).not.toContain(leader.id);
    await c.stopNode(leader.id);
    const next = await c.leader();
    expect(next.id).not.toBe(leader.id);
    expect(roles).toContain("follower");
    await expect(next.rt.propose(encodePut("two-left", Buffer.from("ok")))).resolves.toMatchObject({ existed: false });
    expect(next.rt.status().members.map((m) => m.id)).toEqual(["n1", "n2", "n3"].filter((id) => id !== leader.id));
  });

  it("honours AbortSignal and timeouts: aborted proposals and reads reject with typed errors", async () => {
    const c = await start();
    const leader = await c.leader();
    const ac = new AbortController();
    ac.abort(new Error("caller gave up"));
    await expect(leader.rt.propose(encodePut("a", Buffer.from("1")), { signal: ac.signal })).rejects.toBeInstanceOf(
      RaftAbortedError,
    );
    for (const f of c.followers(leader)) await c.stopNode(f.id);
    // Without a quorum a read index cannot be confirmed: the read times out (safe to retry).
    const err = await leader.rt.readIndex({ timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RaftTimeoutError);
    const ac2 = new AbortController();
    const pending = leader.rt
      .propose(encodePut("b", Buffer.from("2")), { signal: ac2.signal })
      .catch((e: unknown) => e);
    ac2.abort();
    const e2 = await pending;
    // Aborted after the append (outcome unknown), unless the leader already stepped down.
    expect(e2 instanceof RaftAbortedError || e2 instanceof NotLeaderError || e2 instanceof LeadershipLostError).toBe(
      true,
    );
  });
});
