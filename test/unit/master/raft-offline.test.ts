// The offline Raft tools (src/master/state/raft-offline.ts) on real LevelDB stores written with
// RaftStorage, as a master leaves them: a bootstrap snapshot, then noop / master commands /
// conf changes, part of them not yet committed.
import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { encodeCommand, MasterStateMachine } from "../../../src/master/state/master-state-machine.js";
import { MASTER_ID_FILE, MDIR_LOCK_FILE } from "../../../src/master/state/mdir.js";
import { inspectRaftDir, raftDirOf, rewriteRaftMembership } from "../../../src/master/state/raft-offline.js";
import { bootstrapState, RaftNode, type Entry, type HardState, type Ready } from "../../../src/raft/index.js";
import { RaftStorage } from "../../../src/raft/runtime/index.js";
import { tempDir, type TempDir } from "../../helpers.js";

const A = "127.0.0.1:9333";
const B = "127.0.0.1:9334";
const C = "127.0.0.1:9335";
const D = "127.0.0.1:9336";

let tmp: TempDir;
let mdir: string;

beforeEach(async () => {
  tmp = await tempDir("weed-ts-raft-offline-");
  mdir = join(tmp.dir, "m");
  await mkdir(mdir);
});

afterEach(async () => {
  await tmp.remove();
});

function ready(entries: Entry[], hardState: HardState): Ready {
  return {
    softState: null,
    hardState,
    entries,
    snapshot: null,
    messages: [],
    committedEntries: [],
    readStates: [],
    mustSync: true,
  };
}

/**
 * Term 2, vote A. Log after the bootstrap snapshot (index 1): noop, topologyId, nextVolumeId,
 * reserveKeys 10000, add-learner D, promote D, remove C (commit 7), then uncommitted:
 * reserveKeys 10000 and nextVolumeId (index 8, 9).
 */
async function writeHistory(): Promise<void> {
  const s = new RaftStorage(raftDirOf(mdir));
  await s.open();
  await s.initialize(bootstrapState({ voters: [A, B, C], learners: [] }));
  const normal = (index: number, cmd: Parameters<typeof encodeCommand>[0]): Entry => ({
    type: "normal",
    index,
    term: 2,
    data: encodeCommand(cmd),
  });
  const entries: Entry[] = [
    { type: "noop", index: 2, term: 2 },
    normal(3, { op: "topologyId", id: "topo-1" }),
    normal(4, { op: "nextVolumeId" }),
    normal(5, { op: "reserveKeys", count: 10_000, floor: 0 }),
    { type: "conf-change", index: 6, term: 2, change: { type: "add-learner", node: D } },
    { type: "conf-change", index: 7, term: 2, change: { type: "promote", node: D } },
    { type: "conf-change", index: 8, term: 2, change: { type: "remove", node: C } },
    normal(9, { op: "reserveKeys", count: 10_000, floor: 0 }),
    normal(10, { op: "nextVolumeId" }),
  ];
  await s.persist(ready(entries, { term: 3, vote: A, commit: 7 }));
  await s.close();
}

async function loadRaw(): Promise<NonNullable<Awaited<ReturnType<RaftStorage["load"]>>>> {
  const s = new RaftStorage(raftDirOf(mdir));
  await s.open();
  try {
    const state = await s.load();
    expect(state).not.toBeNull();
    return state!;
  } finally {
    await s.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<WeedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WeedError);
  return err as WeedError;
}

describe("inspectRaftDir", () => {
  it("reports bounds, the membership after every conf change in the log, and the state as of commit", async () => {
    await writeHistory();
    await writeFile(join(mdir, MASTER_ID_FILE), `${A}\n`);
    const s = await inspectRaftDir(mdir);
    expect(s).toEqual({
      id: A,
      term: 3,
      vote: A,
      commit: 7,
      firstIndex: 2,
      lastIndex: 10,
      lastTerm: 2,
      snapshot: { index: 1, term: 1 },
      // The removal of C at index 8 is not committed yet; the dump shows the log's latest word.
      membership: { voters: [A, B, D].sort(), learners: [] },
      entries: 9,
      topologyId: "topo-1",
      maxVolumeId: 1,
      fileKeyCeiling: 10_000,
    });
  });

  it("refuses a directory without Raft state and creates none there", async () => {
    const err = await rejection(inspectRaftDir(mdir));
    expect(err.code).toBe(ErrorCode.NOT_FOUND);
    expect(err.message).toContain(raftDirOf(mdir));
    await expect(access(raftDirOf(mdir))).rejects.toMatchObject({ code: "ENOENT" });
    // An empty directory where the store should be is no store either.
    await mkdir(raftDirOf(mdir));
    expect((await rejection(inspectRaftDir(mdir))).code).toBe(ErrorCode.NOT_FOUND);
    await expect(access(join(raftDirOf(mdir), "CURRENT"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a store another open holds (LevelDB's lock) with an in-use message", async () => {
    await writeHistory();
    const holder = new RaftStorage(raftDirOf(mdir));
    await holder.open();
    try {
      const err = await rejection(inspectRaftDir(mdir));
      expect(err.code).toBe(ErrorCode.CONFLICT);
      expect(err.message).toContain(`${mdir} is in use`);
    } finally {
      await holder.close();
    }
    expect((await inspectRaftDir(mdir)).commit).toBe(7);
  });
});

describe("rewriteRaftMembership", () => {
  it("folds the whole log, uncommitted entries too, into one snapshot with the new voters", async () => {
    await writeHistory();
    await writeFile(join(mdir, MASTER_ID_FILE), `${A}\n`);
    const r = await rewriteRaftMembership(mdir, [B, A]);
    expect(r).toEqual({
      id: A,
      before: { membership: { voters: [A, B, D].sort(), learners: [] }, commit: 7, lastIndex: 10 },
      after: { membership: { voters: [A, B], learners: [] }, snapshotIndex: 10 },
    });
    const raw = await loadRaw();
    expect(raw.hardState).toEqual({ term: 3, vote: A, commit: 10 });
    expect(raw.entries).toEqual([]);
    expect(raw.snapshot!.meta).toEqual({ index: 10, term: 2, membership: { voters: [A, B], learners: [] } });
    const sm = new MasterStateMachine();
    sm.restore(raw.snapshot!.data);
    // Both reservations and both volume ids, the uncommitted ones included: they may have been used.
    expect(sm.state).toEqual({ topologyId: "topo-1", maxVolumeId: 2, fileKeyCeiling: 20_000 });
    const s = await inspectRaftDir(mdir);
    expect(s).toMatchObject({
      firstIndex: 11,
      lastIndex: 10,
      lastTerm: 2,
      commit: 10,
      entries: 0,
      fileKeyCeiling: 20_000,
    });
  });

  it("leaves a store a lone voter can lead from", async () => {
    await writeHistory();
    await rewriteRaftMembership(mdir, [A]);
    const node = new RaftNode({ id: A, random: () => 0.5, electionTicks: 10, heartbeatTicks: 1 }, await loadRaw());
    for (let i = 0; i < 40 && node.basicStatus().role !== "leader"; i++) node.tick();
    expect(node.basicStatus()).toMatchObject({ role: "leader", leader: A });
    expect(node.basicStatus().term).toBeGreaterThan(3);
  });

  it("refuses an empty list, a duplicate, and a list without this master", async () => {
    await writeHistory();
    expect((await rejection(rewriteRaftMembership(mdir, []))).code).toBe(ErrorCode.BAD_PARAM);
    expect((await rejection(rewriteRaftMembership(mdir, [A, A]))).message).toContain(`${A} twice`);
    // master.id unknown: a list naming no old member cannot include this one.
    expect((await rejection(rewriteRaftMembership(mdir, ["127.0.0.1:1"]))).code).toBe(ErrorCode.BAD_PARAM);
    await writeFile(join(mdir, MASTER_ID_FILE), `${A}\n`);
    const err = await rejection(rewriteRaftMembership(mdir, [B]));
    expect(err.code).toBe(ErrorCode.BAD_PARAM);
    expect(err.message).toContain(A);
    // Nothing was changed by the refusals.
    expect((await loadRaw()).entries).toHaveLength(9);
  });

  it("refuses while master.lock names a live process, naming its pid", async () => {
    await writeHistory();
    await writeFile(
      join(mdir, MDIR_LOCK_FILE),
      JSON.stringify({ pid: process.pid, id: A, startedAt: new Date().toISOString() }),
    );
    const err = await rejection(rewriteRaftMembership(mdir, [A]));
    expect(err.code).toBe(ErrorCode.CONFLICT);
    expect(err.message).toContain(`pid ${process.pid}`);
    expect((await loadRaw()).entries).toHaveLength(9);
  });
});
