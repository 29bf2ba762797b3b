// Replica health on the leader (issue 11), in process: which volumes take writes when a replica
// needs a check, is read-only or is missing; the list Topology.replicaHealth() gives the repair;
// the location watchers behind volume_locations_changed; the assigner growing elsewhere rather than
// handing out an under-replicated volume; /dir/status's lists and the status page's section; and
// the coalesced, bounded push of changed ids.
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Topology } from "../../../src/master/topology/topology.js";
import type { DataNode, NodeSpec, ReplicaInfo } from "../../../src/master/topology/data-node.js";
import { Assigner, type AssignRequest } from "../../../src/master/topology/assigner.js";
import { VolumeGrowth } from "../../../src/master/topology/volume-growth.js";
import type { VolumeAllocator } from "../../../src/master/topology/volume-allocator.js";
import { NO_PREFS } from "../../../src/master/topology/placement.js";
import { Sequencer } from "../../../src/master/state/sequencer.js";
import { dirStatus } from "../../../src/master/api/status-json.js";
import { renderStatusPage } from "../../../src/master/api/status-page.js";
import { LocationPush, type LocationPushTimers } from "../../../src/master/api/location-push.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { tempDir } from "../../helpers.js";
import { LevelClusterState } from "./level-cluster-state.js";
import { replicaInfo, rpByte } from "./helpers.js";

const LIMIT = 1000;
const RP010 = rpByte("010");

let nextPort = 8080;
function node(t: Topology, rack: string): DataNode {
  const port = nextPort++;
  const spec: NodeSpec = {
    ip: "10.0.0.1",
    port,
    publicUrl: "",
    grpcPort: port + 10000,
    dataCenter: "dc1",
    rack,
    maxVolumes: 20,
  };
  return t.registerNode(spec);
}

const replica = (id: number, o: Partial<ReplicaInfo> = {}): ReplicaInfo =>
  replicaInfo(id, { replicaPlacement: RP010, ...o });

/** Two servers on two racks, both holding volumes 1 and 2 (placement 010). */
function twoRacks(): { t: Topology; a: DataNode; b: DataNode } {
  const t = new Topology(LIMIT);
  const a = node(t, "r1");
  const b = node(t, "r2");
  for (const n of [a, b]) t.syncVolumes(n, [replica(1), replica(2)]);
  return { t, a, b };
}

describe("writable list and replica health", () => {
  it("a replica that needs a check takes the volume off the writable list until the flag clears", () => {
    const { t, b } = twoRacks();
    const layout = t.findLayout("", RP010, 0)!;
    expect(layout.writableIds()).toEqual([1, 2]);
    expect(t.replicaHealth()).toEqual([]);

    const flagged = t.syncVolumes(b, [replica(1, { needsCheck: true }), replica(2)]);
    expect(flagged).toEqual({ added: [], removed: [], flagged: [replica(1, { needsCheck: true })] });
    expect(layout.writableIds()).toEqual([2]);
    const [h] = t.replicaHealth();
    expect(h).toMatchObject({ id: 1, needsCheck: true, underReplicated: false, readOnly: false, copiesWanted: 2 });
    expect(h!.holders).toHaveLength(2);

    // The same flag again is no change; clearing it is one.
    expect(t.syncVolumes(b, [replica(1, { needsCheck: true }), replica(2)]).flagged).toEqual([]);
    expect(t.syncVolumes(b, [replica(1), replica(2)]).flagged).toEqual([replica(1)]);
    expect(layout.writableIds()).toEqual([1, 2]);
    expect(t.replicaHealth()).toEqual([]);
  });

  it("read-only is listed, and off the writable list, until the replica is writable again", () => {
    const { t, a } = twoRacks();
    const layout = t.findLayout("", RP010, 0)!;
    expect(t.syncVolumes(a, [replica(1), replica(2, { readOnly: true })]).flagged).toHaveLength(1);
    expect(layout.writableIds()).toEqual([1]);
    expect(t.replicaHealth().map((h) => [h.id, h.readOnly, h.needsCheck])).toEqual([[2, true, false]]);
    t.syncVolumes(a, [replica(1), replica(2)]);
    expect(layout.writableIds()).toEqual([1, 2]);
  });

  it("a dropped server leaves its volumes under-replicated; a copy on another rack heals them", () => {
    const { t, a, b } = twoRacks();
    const layout = t.findLayout("", RP010, 0)!;
    t.unregisterNode(b);
    expect(layout.writableIds()).toEqual([]);
    const health = t.replicaHealth();
    expect(health.map((h) => h.id)).toEqual([1, 2]);
    expect(health[0]).toMatchObject({ underReplicated: true, overReplicated: false, copiesWanted: 2 });
    expect(health[0]!.holders).toEqual([a]);

    const c = node(t, "r3");
    t.upsertVolume(c, replica(1)); // volume.fix.replication copied it
    expect(layout.writableIds()).toEqual([1]);
    expect(t.replicaHealth().map((h) => h.id)).toEqual([2]);
  });

  it("an extra copy is listed over-replicated but stays writable (every location gets the write)", () => {
    const { t } = twoRacks();
    const c = node(t, "r3");
    t.upsertVolume(c, replica(2));
    expect(t.findLayout("", RP010, 0)!.writableIds()).toEqual([1, 2]);
    expect(t.replicaHealth()).toMatchObject([{ id: 2, overReplicated: true, underReplicated: false }]);
  });

  it("a volume gone from every server leaves the health list", () => {
    const { t, a, b } = twoRacks();
    t.syncVolumes(a, [replica(1, { needsCheck: true }), replica(2)]);
    t.removeVolume(a, 1);
    t.removeVolume(b, 1);
    expect(t.replicaHealth()).toEqual([]);
    expect(t.findLayout("", RP010, 0)!.volumeIds()).toEqual([2]);
  });

  it("location watchers hear replicas added and removed, not size or flag updates", () => {
    const t = new Topology(LIMIT);
    const a = node(t, "r1");
    const b = node(t, "r2");
    const heard: number[] = [];
    const unwatch = t.watchLocations((vid) => heard.push(vid));
    t.syncVolumes(a, [replica(1), replica(2)]);
    t.upsertVolume(b, replica(1));
    expect(heard).toEqual([1, 2, 1]);
    heard.length = 0;
    t.syncVolumes(a, [replica(1, { size: 500, needsCheck: true }), replica(2)]);
    expect(heard).toEqual([]);
    t.syncVolumes(a, [replica(2)]); // a full report without volume 1: deleted there
    expect(heard).toEqual([1]);
    t.unregisterNode(b);
    expect(heard).toEqual([1, 1]);
    unwatch();
    t.upsertVolume(a, replica(3));
    expect(heard).toEqual([1, 1]);
  });
});

class InstantAllocator implements VolumeAllocator {
  readonly placed: string[][] = [];
  async allocate(n: DataNode, req: { volumeId: number }): Promise<void> {
    (this.placed[req.volumeId] ??= []).push(n.rack.id);
  }
  async remove(): Promise<void> {}
  forget(): void {}
  close(): void {}
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const assign010: AssignRequest = {
  count: 1,
  collection: "",
  replicaPlacement: RP010,
  ttl: 0,
  prefs: NO_PREFS,
  writableVolumeCount: 0,
  preallocate: 0,
  memoryMapMaxSizeMb: 0,
  diskType: "",
};

async function assignerOver(t: Topology): Promise<{ assigner: Assigner; allocator: InstantAllocator }> {
  const dir = await tempDir();
  const state = new LevelClusterState(join(dir.dir, "state"));
  await state.open();
  // Volumes 1 and 2 exist: growth must not hand their ids out again.
  await state.raiseMaxVolumeId(2);
  const sequencer = new Sequencer(state, silentLogger());
  await sequencer.start();
  cleanups.push(
    dir.remove,
    () => state.close(),
    () => sequencer.close(),
  );
  const allocator = new InstantAllocator();
  const growth = new VolumeGrowth(
    { topology: t, state, allocator, random: Math.random, logger: silentLogger() },
    { growthCount: 2 },
  );
  const deps = { topology: t, sequencer, growth, random: Math.random, now: () => performance.now() };
  return { assigner: new Assigner({ ...deps, everAllocated: () => true }), allocator };
}

describe("assigning around unhealthy volumes", () => {
  it("never hands out an under-replicated volume; grows one on the racks left", async () => {
    const { t, b } = twoRacks();
    node(t, "r3");
    t.unregisterNode(b);
    const { assigner, allocator } = await assignerOver(t);
    for (let i = 0; i < 20; i++) {
      const r = await assigner.assign(assign010);
      expect([3, 4]).toContain(Number(r.fid.split(",")[0]));
      expect(r.nodes).toHaveLength(2);
    }
    expect(allocator.placed[3]!.sort()).toEqual(["r1", "r3"]);
  });

  it("with one rack left the assign fails 406 naming the placement, not a volume that lost its copy", async () => {
    const { t, a, b } = twoRacks();
    t.syncVolumes(a, [replica(1, { needsCheck: true }), replica(2)]);
    t.unregisterNode(b);
    const { assigner } = await assignerOver(t);
    const err: unknown = await assigner.assign(assign010).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.NO_FREE_SLOT);
    expect((err as WeedError).httpStatus).toBe(406);
    expect((err as WeedError).message).toMatch(/010/);
  });

  it("a needs-check volume is skipped while its sibling serves", async () => {
    const { t, b } = twoRacks();
    t.syncVolumes(b, [replica(1, { needsCheck: true }), replica(2)]);
    const { assigner, allocator } = await assignerOver(t);
    for (let i = 0; i < 20; i++) expect((await assigner.assign(assign010)).fid).toMatch(/^2,/);
    expect(allocator.placed).toEqual([]);
  });
});

describe("/dir/status and the status page", () => {
  it("each layout lists its under-replicated, read-only and needs-check volumes beside writables", () => {
    const { t, a, b } = twoRacks();
    t.syncVolumes(a, [
      replica(1, { readOnly: true }),
      replica(2, { needsCheck: true }),
      replica(3, { readOnly: true }),
    ]);
    t.syncVolumes(b, [replica(1), replica(2)]);
    t.syncVolumes(node(t, "r3"), [replica(4), replica(5, { replicaPlacement: 0 })]);
    const s = dirStatus(t, "v", "tid") as { Topology: { Layouts: Record<string, unknown>[] } };
    const byRp = Object.fromEntries(s.Topology.Layouts.map((l) => [l.replication, l]));
    expect(byRp["010"]).toEqual({
      replication: "010",
      ttl: "",
      writables: [],
      collection: "",
      diskType: "hdd",
      underReplicated: [3, 4],
      readOnly: [1, 3],
      needsCheck: [2],
      full: [],
      crowded: [],
    });
    expect(byRp["000"]).toMatchObject({ writables: [5], underReplicated: [], readOnly: [], needsCheck: [] });
  });

  it("the status page has a section listing those volumes with their locations", () => {
    const { t, a, b } = twoRacks();
    t.syncVolumes(a, [replica(1, { needsCheck: true }), replica(2)]);
    t.unregisterNode(b);
    const html = renderStatusPage(t, {
      version: "v",
      leader: "127.0.0.1:9333",
      self: "127.0.0.1:9333",
      leading: true,
      members: [],
      volumeSizeLimitMB: 1,
      maxVolumeId: 2,
      topologyId: "tid",
      uptimeSec: 1,
    });
    const section = html.slice(html.indexOf("<h2>Volumes needing attention</h2>"));
    expect(section).toContain(
      `<tr><td>1</td><td></td><td>010</td><td>1 / 2</td><td>under-replicated, needs check</td>`,
    );
    expect(section).toContain(`<tr><td>2</td><td></td><td>010</td><td>1 / 2</td><td>under-replicated</td>`);
    expect(section).toContain(`href="http://${a.publicUrl}/"`);
  });
});

/** Timers run by hand: run() fires what is due. */
class ManualTimers implements LocationPushTimers {
  due: (() => void)[] = [];
  setTimeout(fn: () => void): unknown {
    this.due.push(fn);
    return fn;
  }
  clearTimeout(timer: unknown): void {
    this.due = this.due.filter((f) => f !== timer);
  }
  run(): void {
    const fns = this.due;
    this.due = [];
    for (const f of fns) f();
  }
}

describe("LocationPush", () => {
  it("coalesces changes of one interval into one sorted message", () => {
    const timers = new ManualTimers();
    const sent: number[][] = [];
    const push = new LocationPush({ send: (ids) => sent.push(ids), timers });
    for (const vid of [7, 3, 7, 5, 3]) push.changed(vid);
    expect(timers.due).toHaveLength(1);
    expect(sent).toEqual([]);
    timers.run();
    expect(sent).toEqual([[3, 5, 7]]);
    timers.run();
    expect(sent).toHaveLength(1);
  });

  it("splits into messages of idsMax and carries what is over the per-interval bound to the next one", () => {
    const timers = new ManualTimers();
    const sent: number[][] = [];
    const push = new LocationPush({ send: (ids) => sent.push(ids), timers, idsMax: 3, messagesMax: 2 });
    for (let vid = 1; vid <= 10; vid++) push.changed(vid);
    timers.run();
    expect(sent).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(push.pendingCount).toBe(4);
    timers.run();
    expect(sent.slice(2)).toEqual([[7, 8, 9], [10]]);
    expect(push.pendingCount).toBe(0);
    expect(timers.due).toEqual([]);
  });

  it("sends nothing after close()", () => {
    const timers = new ManualTimers();
    const sent: number[][] = [];
    const push = new LocationPush({ send: (ids) => sent.push(ids), timers });
    push.changed(1);
    push.close();
    push.changed(2);
    timers.run();
    expect(sent).toEqual([]);
  });
});
