// The leader's membership rules against a scripted runtime: quorum checks on the voters reachable
// now, even-count warnings, one spelling per member, the leader handing over before its removal.
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { createLogger } from "../../../src/common/logger.js";
import { majority, MembershipManager, type MembershipRuntime } from "../../../src/master/state/membership.js";
import type { ConfChangeResult, MemberStatus, RuntimeStatus } from "../../../src/raft/runtime/index.js";

const SELF = "127.0.0.1:9333";
const ELECTION_MS = 300;

/** A leader's view: members with how long ago each was heard; changes apply at once. */
class ScriptedRuntime implements MembershipRuntime {
  readonly electionTimeoutMs = ELECTION_MS;
  role: RuntimeStatus["role"] = "leader";
  leader: string | null = SELF;
  members: MemberStatus[] = [];
  transfers: Array<string | undefined> = [];
  changes: string[] = [];

  constructor(voters: Record<string, number | null>) {
    for (const [id, heard] of Object.entries(voters)) this.members.push(member(id, "voter", heard));
  }

  status(): RuntimeStatus {
    return {
      id: SELF,
      role: this.role,
      leader: this.leader,
      members: this.members.map((m) => ({ ...m })),
    } as unknown as RuntimeStatus;
  }
  private result(): ConfChangeResult {
    return {
      index: 1,
      membership: { voters: this.members.filter((m) => m.suffrage === "voter").map((m) => m.id), learners: [] },
    };
  }
  async addLearner(id: string): Promise<ConfChangeResult> {
    this.changes.push(`learner ${id}`);
    this.members.push(member(id, "learner", 5));
    return this.result();
  }
  async promote(id: string): Promise<ConfChangeResult> {
    this.changes.push(`promote ${id}`);
    this.members = this.members.map((m) => (m.id === id ? { ...m, suffrage: "voter" } : m));
    return this.result();
  }
  async removeMember(id: string): Promise<ConfChangeResult> {
    this.changes.push(`remove ${id}`);
    this.members = this.members.filter((m) => m.id !== id);
    return this.result();
  }
  async transferLeadership(to?: string): Promise<string> {
    this.transfers.push(to);
    const next = to ?? this.members.find((m) => m.id !== SELF && m.suffrage === "voter")!.id;
    this.role = "follower";
    this.leader = next;
    return next;
  }
}

function member(id: string, suffrage: "voter" | "learner", lastHeardMs: number | null): MemberStatus {
  return { id, suffrage, match: null, state: null, recentActive: null, lastHeardMs: id === SELF ? null : lastHeardMs };
}

const log = createLogger("silent");
const managers: MembershipManager[] = [];
afterEach(() => managers.splice(0));

function manager(rt: ScriptedRuntime): MembershipManager {
  const m = new MembershipManager(rt, SELF, log);
  managers.push(m);
  return m;
}

async function failure(p: Promise<unknown>): Promise<WeedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WeedError);
  return err as WeedError;
}

describe("MembershipManager", () => {
  it("majority", () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });

  it("adds a learner, promotes it, and warns when the voters become even", async () => {
    const rt = new ScriptedRuntime({ [SELF]: null });
    const r = await manager(rt).add("127.0.0.1:9334");
    expect(rt.changes).toEqual(["learner 127.0.0.1:9334", "promote 127.0.0.1:9334"]);
    expect(r.result).toBe("added");
    expect(r.voters.sort()).toEqual([SELF, "127.0.0.1:9334"]);
    expect(r.warning).toMatch(/2 voters: an even number/);
    // Idempotent, and one spelling per member.
    expect((await manager(rt).add("127.0.0.1:9334")).result).toBe("already a voter");
    const spelled = await failure(manager(rt).add("localhost:9334"));
    expect(spelled.code).toBe(ErrorCode.CONFLICT);
    expect(spelled.message).toMatch(/already a member as 127\.0\.0\.1:9334/);
  });

  it("refuses a master whose state belongs to another cluster", async () => {
    const rt = new ScriptedRuntime({ [SELF]: null });
    const m = new MembershipManager(rt, SELF, log, () => "cluster-a");
    const err = await failure(m.add("h:2", { clusterId: "cluster-b" }));
    expect(err.code).toBe(ErrorCode.CONFLICT);
    expect(err.message).toMatch(/another cluster \(cluster-b; this one is cluster-a\)/);
    expect(rt.changes).toEqual([]);
    // The same cluster, or a master that never saw one, is welcome.
    expect((await m.add("h:2", { clusterId: "cluster-a" })).result).toBe("added");
    expect((await m.add("h:3", { clusterId: "" })).result).toBe("added");
  });

  it("asks a master added by an operator for its cluster id, and refuses one running its own cluster", async () => {
    const rt = new ScriptedRuntime({ [SELF]: null });
    const asked: string[] = [];
    const m = new MembershipManager(
      rt,
      SELF,
      log,
      () => "cluster-a",
      async (id) => {
        asked.push(id);
        return id === "h:9" ? "cluster-z" : null;
      },
    );
    const err = await failure(m.add("h:9"));
    expect(err.message).toMatch(/another cluster \(cluster-z; this one is cluster-a\).*-peers/);
    // One that does not answer yet is added, and waited for.
    expect((await m.add("h:2")).result).toBe("added");
    expect(asked).toEqual(["h:9", "h:2"]);
  });

  it("adds only a learner when asked (voter: false)", async () => {
    const rt = new ScriptedRuntime({ [SELF]: null, "h:2": 10, "h:3": 10 });
    const r = await manager(rt).add("h:4", { voter: false });
    expect(rt.changes).toEqual(["learner h:4"]);
    expect(r.learners).toEqual(["h:4"]);
  });

  it("refuses a removal that leaves fewer reachable voters than a majority, naming them", async () => {
    // 3 voters, h:2 silent for 5 s: removing h:3 leaves {self, h:2} with one reachable.
    const rt = new ScriptedRuntime({ [SELF]: null, "h:2": 5_000, "h:3": 20 });
    const err = await failure(manager(rt).remove("h:3"));
    expect(err.code).toBe(ErrorCode.CONFLICT);
    expect(err.message).toMatch(/would lose quorum/);
    expect(err.message).toContain("h:2");
    expect(rt.changes).toEqual([]);
    // Removing the silent one is fine: {self, h:3} are both reachable. Even count: warned.
    const r = await manager(rt).remove("h:2");
    expect(r).toMatchObject({ result: "removed", voters: [SELF, "h:3"] });
    expect("warning" in r && r.warning).toMatch(/2 voters/);
  }, 10_000);

  it("refuses an add while too few voters are reachable to commit with the newcomer", async () => {
    // 3 voters, 2 of them silent: 4 voters would need 3, only self + the newcomer answer.
    const rt = new ScriptedRuntime({ [SELF]: null, "h:2": null, "h:3": 9_000 });
    const err = await failure(manager(rt).add("h:4"));
    expect(err.code).toBe(ErrorCode.CONFLICT);
    expect(rt.changes).toEqual([]);
  }, 10_000);

  it("hands leadership over before removing itself, and refuses the last voter", async () => {
    const rt = new ScriptedRuntime({ [SELF]: null, "h:2": 10, "h:3": 10 });
    const r = await manager(rt).remove(SELF);
    expect(r).toEqual({ handedOffTo: "h:2" });
    expect(rt.transfers).toEqual([undefined]);
    expect(rt.changes).toEqual([]);

    const alone = new ScriptedRuntime({ [SELF]: null });
    expect((await failure(manager(alone).remove(SELF))).message).toMatch(/last voter/);
  });

  it("names bad input and non-members, and refuses on a follower", async () => {
    const rt = new ScriptedRuntime({ [SELF]: null, "h:2": 10, "h:3": 10 });
    expect((await failure(manager(rt).add(""))).code).toBe(ErrorCode.BAD_PARAM);
    expect((await failure(manager(rt).add("no-port"))).code).toBe(ErrorCode.BAD_PARAM);
    expect((await failure(manager(rt).remove("h:9"))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(manager(rt).transfer("h:9"))).code).toBe(ErrorCode.CONFLICT);
    rt.role = "follower";
    rt.leader = "h:2";
    expect((await failure(manager(rt).add("h:4"))).code).toBe(ErrorCode.NOT_LEADER);
  });

  it("runs changes one at a time", async () => {
    const rt = new ScriptedRuntime({ [SELF]: null });
    const m = manager(rt);
    await Promise.all([m.add("h:2"), m.add("h:3"), m.add("h:4")]);
    expect(rt.changes).toEqual([
      "learner h:2",
      "promote h:2",
      "learner h:3",
      "promote h:3",
      "learner h:4",
      "promote h:4",
    ]);
  });
});
