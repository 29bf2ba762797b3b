// Full and crowded volumes on the master (SeaweedFS volume_layout.go): a volume at or over the size
// limit leaves the writable list and is listed full; one over 90% is crowded; once every writable
// volume is crowded, an assign grows the layout in the background (no assign waits for it).
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
import { silentLogger } from "../../../src/common/logger.js";
import { tempDir, waitFor } from "../../helpers.js";

const LIMIT = 1000;

class CountingAllocator implements VolumeAllocator {
  calls: AllocateRequest[] = [];
  async allocate(_node: DataNode, req: AllocateRequest): Promise<void> {
    this.calls.push(req);
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

function replica(id: number, size: number): ReplicaInfo {
  return {
    ...{ id, collection: "", replicaPlacement: 0, ttl: 0, size, fileCount: 1, deleteCount: 0 },
    ...{ deletedByteCount: 0, readOnly: false, version: 3, compactRevision: 0, modifiedAtSecond: 0 },
    ...{ diskType: "", needsCheck: false },
  };
}

function topologyWithNode(): { topology: Topology; node: DataNode } {
  const topology = new Topology(LIMIT);
  const node = topology.registerNode({
    ...{ ip: "10.0.0.1", port: 8080, publicUrl: "", grpcPort: 18080 },
    ...{ dataCenter: "", rack: "", maxVolumes: 20 },
  });
  return { topology, node };
}

describe("VolumeLayout: full and crowded", () => {
  it("lists a volume at the limit full (not writable) and one over 90% crowded (writable)", () => {
    const { topology, node } = topologyWithNode();
    topology.upsertVolume(node, replica(1, 100));
    topology.upsertVolume(node, replica(2, 901));
    topology.upsertVolume(node, replica(3, LIMIT));
    const layout = topology.findLayout("", 0, 0)!;
    expect(layout.writableIds()).toEqual([1, 2]);
    expect(layout.fullIds()).toEqual([3]);
    expect(layout.crowdedIds()).toEqual([2]);
    expect(layout.shouldGrow).toBe(false);
    // Volume 1 crowded too: every writable one is, grow.
    topology.upsertVolume(node, replica(1, 950));
    expect(layout.shouldGrow).toBe(true);
    // A vacuum shrinks volume 3 below the limit: writable again, not crowded.
    topology.upsertVolume(node, replica(3, 10));
    expect(layout.writableIds()).toEqual([1, 2, 3]);
    expect(layout.fullIds()).toEqual([]);
    expect(layout.shouldGrow).toBe(false);
    // A volume that leaves takes its marks along.
    topology.upsertVolume(node, replica(2, 2 * LIMIT));
    topology.removeVolume(node, 2);
    expect(layout.fullIds()).toEqual([]);
    expect(layout.crowdedIds()).toEqual([1]);
  });
});

describe("Assigner: growth ahead of crowded volumes", () => {
  it("answers from a crowded volume at once and grows the layout in the background, once", async () => {
    const t = await tempDir();
    const state = new LevelClusterState(join(t.dir, "state"));
    await state.open();
    cleanups.push(t.remove, () => state.close());
    const { topology, node } = topologyWithNode();
    const sequencer = new Sequencer(state, silentLogger());
    await sequencer.start();
    cleanups.push(() => sequencer.close());
    const allocator = new CountingAllocator();
    const logger = silentLogger();
    const growth = new VolumeGrowth({ topology, state, allocator, random: Math.random, logger }, { growthCount: 2 });
    const deps = { topology, sequencer, growth, random: Math.random, everAllocated: () => true };
    const assigner = new Assigner({ ...deps, now: () => performance.now() });
    // Id 100: the grown ones take 1 and 2 from the cluster state.
    topology.upsertVolume(node, replica(100, 500));
    expect(assigner.tryAssign(request)?.fid).toMatch(/^100,/);
    expect(allocator.calls).toHaveLength(0);

    topology.upsertVolume(node, replica(100, 950));
    for (let i = 0; i < 5; i++) expect(assigner.tryAssign(request)?.fid).toMatch(/^100,/);
    await waitFor(() => topology.findLayout("", 0, 0)!.writableCount === 3, { what: "two volumes grown ahead" });
    expect(allocator.calls).toHaveLength(2);
    expect(topology.findLayout("", 0, 0)!.shouldGrow).toBe(false);
  });
});
