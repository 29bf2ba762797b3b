// Checks the assigner's bounded waits in process: a growth that takes longer than the wait turns
// into 503 + Retry-After ("growth in progress"), every waiter shares that one growth, and the
// volume it makes serves the next assign.
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Assigner, type AssignRequest } from "../../../src/master/topology/assigner.js";
import { LevelClusterState } from "./level-cluster-state.js";
import { Sequencer } from "../../../src/master/state/sequencer.js";
import { Topology } from "../../../src/master/topology/topology.js";
import { VolumeGrowth } from "../../../src/master/topology/volume-growth.js";
import { NO_PREFS } from "../../../src/master/topology/placement.js";
import type { AllocateRequest, VolumeAllocator } from "../../../src/master/topology/volume-allocator.js";
import type { DataNode, ReplicaInfo } from "../../../src/master/topology/data-node.js";
import { ErrorCode } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { tempDir, waitFor } from "../../helpers.js";

class GatedAllocator implements VolumeAllocator {
  calls: AllocateRequest[] = [];
  open!: () => void;
  gate = new Promise<void>((r) => (this.open = r));
  async allocate(_node: DataNode, req: AllocateRequest): Promise<void> {
    this.calls.push(req);
    await this.gate;
  }
  async remove(): Promise<void> {}
  forget(): void {}
  close(): void {}
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const request: AssignRequest = {
  count: 1,
  collection: "",
  replicaPlacement: 0,
  ttl: 0,
  prefs: NO_PREFS,
  writableVolumeCount: 0,
  preallocate: 0,
  memoryMapMaxSizeMb: 0,
  diskType: "",
};

/** One volume server with 8 slots, a started sequencer, and an allocator held at its gate. */
async function setup(): Promise<{
  state: LevelClusterState;
  topology: Topology;
  sequencer: Sequencer;
  allocator: GatedAllocator;
}> {
  const t = await tempDir();
  const state = new LevelClusterState(join(t.dir, "state"));
  await state.open();
  cleanups.push(t.remove, () => state.close());
  const topology = new Topology(1 << 30);
  topology.registerNode({
    ip: "10.0.0.1",
    port: 8080,
    publicUrl: "",
    grpcPort: 18080,
    dataCenter: "",
    rack: "",
    maxVolumes: 8,
  });
  const sequencer = new Sequencer(state, silentLogger());
  await sequencer.start();
  cleanups.push(() => sequencer.close());
  return { state, topology, sequencer, allocator: new GatedAllocator() };
}

describe("Assigner", () => {
  it("answers 503 + Retry-After while a shared growth runs past the wait, then serves from it", async () => {
    const { state, topology, sequencer, allocator } = await setup();
    const growth = new VolumeGrowth(
      { topology, state, allocator, random: Math.random, logger: silentLogger() },
      { growthCount: 1 },
    );
    const assigner = new Assigner(
      { topology, sequencer, growth, random: Math.random, now: () => performance.now(), everAllocated: () => false },
      { growthWaitMs: 100 },
    );

    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => assigner.assign(request)));
    expect(performance.now() - started).toBeLessThan(2_000);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      const err = (r as PromiseRejectedResult).reason as {
        code: string;
        retryAfterSec: number;
        httpStatus: number;
        message: string;
      };
      expect(err.code).toBe(ErrorCode.NO_WRITABLE_VOLUME);
      expect(err.httpStatus).toBe(503);
      expect(err.retryAfterSec).toBe(1);
      expect(err.message).toMatch(/volume growth in progress/);
    }
    expect(allocator.calls).toHaveLength(1);
    allocator.open();
    await waitFor(() => (topology.findLayout("", 0, 0)?.writableCount ?? 0) > 0, { what: "the grown volume writable" });
    const ok = await assigner.assign(request);
    expect(ok.fid).toMatch(/^1,/);
    expect(assigner.tryAssign(request)?.fid).toMatch(/^1,/);
    expect(allocator.calls).toHaveLength(1);
  });

  it("an assign waiting out a warm-up that is called off (nothing to wait for) grows, not answering 503", async () => {
    const { state, topology, sequencer, allocator } = await setup();
    allocator.open();
    const growth = new VolumeGrowth(
      { topology, state, allocator, random: Math.random, logger: silentLogger() },
      { growthCount: 1 },
    );
    const assigner = new Assigner({
      ...{ topology, sequencer, growth, random: Math.random },
      ...{ now: () => performance.now(), everAllocated: () => false },
    });
    assigner.warmUpUntil(performance.now() + 60_000);
    // The warm-up is called off while the assign below waits it out.
    setTimeout(() => assigner.warmUpUntil(0), 100);
    const r = await assigner.assign(request);
    expect(r.fid).toMatch(/^1,/);
    expect(allocator.calls).toHaveLength(1);
    // A warm-up that runs on answers 503 without growing.
    assigner.warmUpUntil(performance.now() + 60_000);
    await expect(assigner.assign({ ...request, collection: "other" })).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
    });
    expect(allocator.calls).toHaveLength(1);
  });

  // Issue 9 item 7: a leader elected a moment before its volume servers' first heartbeat (after a
  // hand-off) answered "no free volumes left ... no volume servers" (500 through /submit).
  it("a leader whose servers have not reported yet waits for them instead of growing or failing", async () => {
    const { topology, allocator, assigner } = await leaderBeforeItsServers();
    setTimeout(() => {
      const node = topology.registerNode({ ...serverSpec, maxVolumes: 8 });
      topology.upsertVolume(node, reported(3));
    }, 150);
    const r = await assigner.assign(request);
    expect(r.fid).toMatch(/^3,/);
    expect(allocator.calls).toEqual([]);
  });

  it("answers 503 + Retry-After, not 'no volume servers', when none reports within the wait", async () => {
    const { topology, allocator, assigner } = await leaderBeforeItsServers();
    await expect(assigner.assign(request)).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      httpStatus: 503,
      retryAfterSec: 1,
    });
    expect(allocator.calls).toEqual([]);
  });
});

describe("Assigner in a warm-up's last moments", () => {
  it("waits out a fractional rest of the warm-up, then grows (not a 500 from the timer)", async () => {
    // A server has reported (so the warm-up alone decides the wait), but no writable volume yet.
    const { state, topology, sequencer, allocator } = await setup();
    const growth = new VolumeGrowth({ topology, state, allocator, random: Math.random, logger: silentLogger() });
    const assigner = new Assigner({
      ...{ topology, sequencer, growth, random: Math.random },
      ...{ now: () => performance.now(), everAllocated: () => true },
    });
    allocator.open();
    assigner.warmUpUntil(performance.now() + 200.37);
    // Waits out the warm-up's rest, then grows (the server reported no volume) and assigns.
    const r = await assigner.assign(request);
    expect(r.fid).toMatch(/^[1-7],/);
    expect(allocator.calls.length).toBeGreaterThan(0);
  });
});

/** A cluster that has volumes, seen by a leader none of whose volume servers has reported yet. */
async function leaderBeforeItsServers(): Promise<{
  topology: Topology;
  allocator: GatedAllocator;
  assigner: Assigner;
}> {
  const { state, sequencer, allocator } = await setup();
  const topology = new Topology(1 << 30);
  const growth = new VolumeGrowth({ topology, state, allocator, random: Math.random, logger: silentLogger() });
  const assigner = new Assigner({
    ...{ topology, sequencer, growth, random: Math.random },
    ...{ now: () => performance.now(), everAllocated: () => true },
  });
  return { topology, allocator, assigner };
}

const serverSpec = { ip: "10.0.0.2", port: 8080, publicUrl: "", grpcPort: 18080, dataCenter: "", rack: "" };

function reported(id: number): ReplicaInfo {
  return {
    ...{ id, collection: "", replicaPlacement: 0, ttl: 0, size: 0, fileCount: 0, deleteCount: 0 },
    ...{ deletedByteCount: 0, readOnly: false, version: 3, compactRevision: 0, modifiedAtSecond: 0, diskType: "" },
    needsCheck: false,
  };
}
