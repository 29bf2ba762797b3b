// Every placement SeaweedFS accepts ("xyz", each digit 0-2 here: up to 7 copies), on seeded random
// topologies, against a deliberately naive model of the rule (SeaweedFS
// weed/topology/volume_growth.go findEmptySlotsForOneVolume): the picked servers satisfy "x other
// data centers, y other racks of the main data center, z other servers of the main rack", and a
// refusal (NO_FREE_SLOT, HTTP 406) comes exactly when the naive model finds no way to do it.
import { describe, expect, it } from "vitest";
import { Topology } from "../../../src/master/topology/topology.js";
import type { DataNode } from "../../../src/master/topology/data-node.js";
import { pickNodesForVolume, NO_PREFS } from "../../../src/master/topology/placement.js";
import { copyCount, parseReplicaPlacement, type ReplicaPlacement } from "../../../src/common/replica-placement.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { seeded } from "./helpers.js";

const topologiesPerPlacement = 60;
const placements: string[] = [];
for (let x = 0; x <= 2; x++) for (let y = 0; y <= 2; y++) for (let z = 0; z <= 2; z++) placements.push(`${x}${y}${z}`);

/** 1-3 data centers, 1-3 racks each, 1-3 servers each; about one server in five is full. */
function randomTopology(random: () => number): Topology {
  const t = new Topology(1 << 30);
  let port = 8000;
  const upTo3 = (): number => 1 + Math.floor(random() * 3);
  for (let d = 0, dcs = upTo3(); d < dcs; d++) {
    for (let r = 0, racks = upTo3(); r < racks; r++) {
      for (let n = 0, nodes = upTo3(); n < nodes; n++) {
        const maxVolumes = random() < 0.2 ? 0 : 1 + Math.floor(random() * 4);
        const p = port++;
        const spec = { ip: "10.0.0.1", port: p, publicUrl: "", grpcPort: p + 10000, maxVolumes };
        t.registerNode({ ...spec, dataCenter: `dc${d}`, rack: `r${r}` });
      }
    }
  }
  return t;
}

/** The naive model: is there a main rack in a main data center from which the rule can be met? */
function feasible(t: Topology, rp: ReplicaPlacement): boolean {
  const free = (n: DataNode): boolean => n.freeSlots > 0;
  const dcs = [...t.dataCenters()];
  const hasFree = (nodes: Iterable<DataNode>): boolean => [...nodes].some(free);
  const dcsWithFree = dcs.filter((dc) => [...dc.racks.values()].some((r) => hasFree(r.nodes.values())));
  return dcsWithFree.some((dc) => {
    const racksWithFree = [...dc.racks.values()].filter((r) => hasFree(r.nodes.values()));
    const mainRackOk = racksWithFree.some((r) => [...r.nodes.values()].filter(free).length >= rp.sameRack + 1);
    return mainRackOk && racksWithFree.length >= rp.diffRack + 1 && dcsWithFree.length >= rp.diffDataCenter + 1;
  });
}

/** Checks a pick against the rule; returns what is wrong, or "" when it is right. */
function violation(nodes: DataNode[], rp: ReplicaPlacement): string {
  if (nodes.length !== copyCount(rp)) return `${nodes.length} servers for ${copyCount(rp)} copies`;
  if (new Set(nodes).size !== nodes.length) return "a server picked twice";
  if (nodes.some((n) => n.freeSlots <= 0)) return "a full server picked";
  const [main, ...rest] = nodes as [DataNode, ...DataNode[]];
  const sameRack = rest.filter((n) => n.rack === main.rack);
  const otherRack = rest.filter((n) => n.dataCenter === main.dataCenter && n.rack !== main.rack);
  const otherDc = rest.filter((n) => n.dataCenter !== main.dataCenter);
  if (sameRack.length !== rp.sameRack) return `${sameRack.length} copies in the main rack, not ${rp.sameRack}`;
  if (new Set(otherRack.map((n) => n.rack)).size !== rp.diffRack) return `other racks: ${otherRack.length}`;
  if (otherRack.length !== rp.diffRack) return `${otherRack.length} copies on other racks, not ${rp.diffRack}`;
  if (new Set(otherDc.map((n) => n.dataCenter)).size !== rp.diffDataCenter) return "other data centers repeat";
  if (otherDc.length !== rp.diffDataCenter) return `${otherDc.length} copies in other DCs, not ${rp.diffDataCenter}`;
  return "";
}

describe("pickNodesForVolume honours every placement value", () => {
  it.each(placements)("%s: right servers when possible, a 406 exactly when not", (text) => {
    const rp = parseReplicaPlacement(text);
    let picked = 0;
    let refused = 0;
    for (let seed = 0; seed < topologiesPerPlacement; seed++) {
      const random = seeded(seed * 1000 + Number(text));
      const t = randomTopology(random);
      const possible = feasible(t, rp);
      let nodes: DataNode[] | undefined;
      let error: unknown;
      try {
        nodes = pickNodesForVolume(t, rp, NO_PREFS, random);
      } catch (err) {
        error = err;
      }
      if (nodes !== undefined) {
        expect({ seed, possible, wrong: violation(nodes, rp) }).toEqual({ seed, possible: true, wrong: "" });
        picked++;
      } else {
        expect(error).toBeInstanceOf(WeedError);
        expect({ seed, possible, code: (error as WeedError).code, status: (error as WeedError).httpStatus }).toEqual({
          seed,
          possible: false,
          code: ErrorCode.NO_FREE_SLOT,
          status: 406,
        });
        refused++;
      }
    }
    expect(picked + refused).toBe(topologiesPerPlacement);
  });

  it("the random topologies reach both outcomes for multi-level placements", () => {
    let both = 0;
    for (const text of ["011", "110", "111", "200"]) {
      const rp = parseReplicaPlacement(text);
      const outcomes = new Set<boolean>();
      for (let seed = 0; seed < topologiesPerPlacement; seed++) {
        outcomes.add(feasible(randomTopology(seeded(seed * 1000 + Number(text))), rp));
      }
      if (outcomes.size === 2) both++;
    }
    expect(both).toBe(4);
  });
});
