// Checks growth: placement "xyz" picks servers in the right data centers/racks, impossible
// placements fail with a clear NO_FREE_SLOT (406), concurrent assigns share one growth, and a
// failed allocation is undone. The allocator here is an in-process VolumeAllocator (the seam);
// the HTTP tests drive the real gRPC allocator against fake volume servers.
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Topology } from "../../../src/master/topology/topology.js";
import type { DataNode, NodeSpec } from "../../../src/master/topology/data-node.js";
import { pickNodesForVolume, NO_PREFS } from "../../../src/master/topology/placement.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { LevelClusterState } from "./level-cluster-state.js";
import { VolumeGrowth, type GrowthSpec } from "../../../src/master/topology/volume-growth.js";
import type { AllocateRequest, VolumeAllocator } from "../../../src/master/topology/volume-allocator.js";
import { silentLogger } from "../../../src/common/logger.js";
import { tempDir } from "../../helpers.js";
import { rpByte, seeded } from "./helpers.js";

let port = 9000;
function node(t: Topology, dataCenter: string, rack: string, maxVolumes = 4): DataNode {
  const p = port++;
  const s: NodeSpec = { ip: "10.0.0.1", port: p, publicUrl: "", grpcPort: p + 10000, dataCenter, rack, maxVolumes };
  return t.registerNode(s);
}

describe("pickNodesForVolume", () => {
  it("000 picks one server", () => {
    const t = new Topology(1 << 30);
    node(t, "dc1", "r1");
    node(t, "dc1", "r1");
    const nodes = pickNodesForVolume(t, parseReplicaPlacement("000"), NO_PREFS, seeded(1));
    expect(nodes).toHaveLength(1);
  });

  it("001 picks two servers in the same rack", () => {
    const t = new Topology(1 << 30);
    node(t, "dc1", "r1");
    node(t, "dc1", "r2");
    node(t, "dc1", "r2");
    for (let seed = 0; seed < 30; seed++) {
      const nodes = pickNodesForVolume(t, parseReplicaPlacement("001"), NO_PREFS, seeded(seed));
      expect(nodes).toHaveLength(2);
      expect(nodes[0]!.rack).toBe(nodes[1]!.rack);
      expect(nodes[0]).not.toBe(nodes[1]);
      expect(nodes[0]!.rack.id).toBe("r2"); // r1 has a single server
    }
  });

  it("010 picks two racks of one data center", () => {
    const t = new Topology(1 << 30);
    node(t, "dc1", "r1");
    node(t, "dc1", "r2");
    node(t, "dc2", "r1");
    for (let seed = 0; seed < 30; seed++) {
      const nodes = pickNodesForVolume(t, parseReplicaPlacement("010"), NO_PREFS, seeded(seed));
      expect(nodes).toHaveLength(2);
      expect(nodes[0]!.dataCenter.id).toBe("dc1");
      expect(nodes[1]!.dataCenter.id).toBe("dc1");
      expect(nodes[0]!.rack).not.toBe(nodes[1]!.rack);
    }
  });

  it("100 picks two data centers, and honours a dataCenter pin for the main copy", () => {
    const t = new Topology(1 << 30);
    node(t, "dc1", "r1");
    node(t, "dc2", "r1");
    const nodes = pickNodesForVolume(
      t,
      parseReplicaPlacement("100"),
      { dataCenter: "dc2", rack: "", dataNode: "" },
      seeded(3),
    );
    expect(nodes.map((n) => n.dataCenter.id)).toEqual(["dc2", "dc1"]);
  });

  it("fails clearly when the placement cannot be met", () => {
    const t = new Topology(1 << 30);
    const fail = (rp: string): WeedError => {
      try {
        pickNodesForVolume(t, parseReplicaPlacement(rp), NO_PREFS, seeded(1));
      } catch (err) {
        return err as WeedError;
      }
      throw new Error(`placement ${rp} unexpectedly succeeded`);
    };
    expect(fail("000").message).toMatch(/no free volumes left.*no volume servers/);
    expect(fail("000").code).toBe(ErrorCode.NO_FREE_SLOT);
    expect(fail("000").httpStatus).toBe(406);
    node(t, "dc1", "r1", 1);
    expect(fail("001").message).toMatch(/no data center has 1 racks with free slots and a rack with 2 servers/);
    expect(fail("010").message).toMatch(/2 racks/);
    expect(fail("100").message).toMatch(/need 2 data centers with free slots, found 1/);
    const n = [...t.allNodes()][0]!;
    n.pendingSlots = 1; // the only slot is promised to a growth under way
    expect(fail("000").message).toMatch(/every volume server is full/);
  });

  it("an unknown dataCenter pin is a 400", () => {
    const t = new Topology(1 << 30);
    node(t, "dc1", "r1");
    expect(() =>
      pickNodesForVolume(t, parseReplicaPlacement("000"), { dataCenter: "nope", rack: "", dataNode: "" }, seeded(1)),
    ).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_REQUEST, message: "data center nope not found in topology" }),
    );
  });
});

class RecordingAllocator implements VolumeAllocator {
  calls: { node: string; req: AllocateRequest }[] = [];
  removed: { node: string; vid: number }[] = [];
  failOn = new Set<string>();
  gate: Promise<void> = Promise.resolve();
  async allocate(node: DataNode, req: AllocateRequest): Promise<void> {
    await this.gate;
    if (this.failOn.has(node.id)) throw new WeedError(ErrorCode.UNAVAILABLE, `allocate on ${node.id} failed`);
    this.calls.push({ node: node.id, req });
  }
  async remove(node: DataNode, vid: number): Promise<void> {
    this.removed.push({ node: node.id, vid });
  }
  forget(): void {}
  close(): void {}
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{
  t: Topology;
  alloc: RecordingAllocator;
  growth: VolumeGrowth;
  state: LevelClusterState;
}> {
  const dir = await tempDir();
  const state = new LevelClusterState(join(dir.dir, "state"));
  await state.open();
  cleanups.push(dir.remove, () => state.close());
  const t = new Topology(1 << 30);
  const alloc = new RecordingAllocator();
  const growth = new VolumeGrowth(
    { topology: t, state, allocator: alloc, random: seeded(7), logger: silentLogger() },
    { growthCount: 3 },
  );
  return { t, alloc, growth, state };
}

function growthSpec(replication: string): GrowthSpec {
  return {
    collection: "",
    replicaPlacement: rpByte(replication),
    ttl: 0,
    prefs: NO_PREFS,
    preallocate: 0,
    memoryMapMaxSizeMb: 0,
    diskType: "",
  };
}

describe("VolumeGrowth", () => {
  it("allocates on every chosen server with a durable id, then the volume is writable", async () => {
    const { t, alloc, growth, state } = await setup();
    node(t, "dc1", "r1");
    node(t, "dc1", "r1");
    const vids = await growth.grow(growthSpec("001"), 2, true);
    expect(vids).toHaveLength(2);
    expect(state.maxVolumeId).toBe(Math.max(...vids));
    expect(alloc.calls).toHaveLength(4);
    expect(alloc.calls[0]!.req.replication).toBe("001");
    const layout = t.findLayout("", rpByte("001"), 0)!;
    expect(layout.writableIds()).toEqual([...vids].sort((a, b) => a - b));
    for (const n of t.allNodes()) expect(n.pendingSlots).toBe(0);
  });

  it("concurrent shared growths of one layout run once", async () => {
    const { t, alloc, growth } = await setup();
    node(t, "dc1", "r1", 10);
    let open!: () => void;
    alloc.gate = new Promise((r) => (open = r));
    const all = Array.from({ length: 10 }, () => growth.growShared(growthSpec("000")));
    expect(growth.isGrowing(growthSpec("000"))).toBe(true);
    open();
    const results = await Promise.all(all);
    expect(new Set(results.map((r) => r.join(","))).size).toBe(1);
    expect(alloc.calls).toHaveLength(3); // growthCount, once
    expect(growth.isGrowing(growthSpec("000"))).toBe(false);
  });

  it("grows as many as fit, and an explicit grow of more than fits creates nothing", async () => {
    const { t, alloc, growth } = await setup();
    node(t, "dc1", "r1", 2);
    await expect(growth.grow(growthSpec("000"), 3, true)).rejects.toMatchObject({
      code: ErrorCode.NO_FREE_SLOT,
      message: "only 2 volumes left, not enough for 3",
    });
    expect(alloc.calls).toHaveLength(0);
    expect(await growth.growShared(growthSpec("000"))).toHaveLength(2);
    await expect(growth.growShared(growthSpec("000"))).rejects.toMatchObject({ code: ErrorCode.NO_FREE_SLOT });
  });

  it("a failed replica undoes the others and reports the server", async () => {
    const { t, alloc, growth } = await setup();
    const a = node(t, "dc1", "r1");
    const b = node(t, "dc1", "r1");
    alloc.failOn.add(b.id);
    await expect(growth.grow(growthSpec("001"), 1, true)).rejects.toThrow(`allocate on ${b.id} failed`);
    expect(alloc.removed).toEqual([{ node: a.id, vid: 1 }]);
    expect(t.volumeCount).toBe(0);
    expect(a.pendingSlots + b.pendingSlots).toBe(0);
  });
});
