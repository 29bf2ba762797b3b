// Where the replicas of one new volume go, for placement "xyz": x copies in other data centers,
// y on other racks of the main data center, z on other nodes of the main rack (SeaweedFS
// weed/topology/volume_growth.go findEmptySlotsForOneVolume). Choices are random, weighted by free
// slots, so volumes spread over the cluster. Pure: the random source is passed in.
import { ErrorCode, WeedError } from "../../common/errors.js";
import { formatReplicaPlacement, type ReplicaPlacement } from "../../common/replica-placement.js";
import type { DataCenter, DataNode, Rack } from "./data-node.js";
import type { Topology } from "./topology.js";
import type { Random } from "./volume-layout.js";

/** Optional pins from the request ("" = any). */
export interface PlacementPrefs {
  dataCenter: string;
  rack: string;
  dataNode: string;
}

export const NO_PREFS: Readonly<PlacementPrefs> = Object.freeze({ dataCenter: "", rack: "", dataNode: "" });

function noSlots(rp: ReplicaPlacement, why: string): WeedError {
  return new WeedError(
    ErrorCode.NO_FREE_SLOT,
    `no free volumes left for replication ${formatReplicaPlacement(rp)}: ${why}`,
  );
}

/** Index of one item chosen with probability proportional to its weight (all weights > 0). */
function weightedIndex<T>(items: readonly T[], weight: (t: T) => number, random: Random): number {
  let total = 0;
  for (const t of items) total += weight(t);
  let r = random() * total;
  for (let i = 0; i < items.length; i++) {
    r -= weight(items[i]!);
    if (r < 0) return i;
  }
  return items.length - 1;
}

/** `k` distinct items, weighted by `weight`; the caller has checked there are at least k. */
function pickDistinct<T>(items: readonly T[], k: number, weight: (t: T) => number, random: Random): T[] {
  const pool = [...items];
  const out: T[] = [];
  for (let i = 0; i < k; i++) {
    const at = weightedIndex(pool, weight, random);
    out.push(pool[at]!);
    pool.splice(at, 1);
  }
  return out;
}

const freeOf = (x: { freeSlots: number }): number => x.freeSlots;

function nodesWithFree(rack: Rack): DataNode[] {
  return [...rack.nodes.values()].filter((n) => n.freeSlots > 0);
}

function racksWithFree(dc: DataCenter): Rack[] {
  return [...dc.racks.values()].filter((r) => r.freeSlots > 0);
}

function validMainRack(rack: Rack, rp: ReplicaPlacement, prefs: PlacementPrefs): boolean {
  if (prefs.rack !== "" && rack.id !== prefs.rack) return false;
  const free = nodesWithFree(rack);
  if (free.length < rp.sameRack + 1) return false;
  return prefs.dataNode === "" || free.some((n) => n.id === prefs.dataNode);
}

function validMainDc(dc: DataCenter, rp: ReplicaPlacement, prefs: PlacementPrefs): boolean {
  if (prefs.dataCenter !== "" && dc.id !== prefs.dataCenter) return false;
  if (racksWithFree(dc).length < rp.diffRack + 1) return false;
  for (const rack of dc.racks.values()) if (validMainRack(rack, rp, prefs)) return true;
  return false;
}

/**
 * The nodes for one new volume: main node first, then same-rack, other-rack and other-DC copies.
 * Throws NO_FREE_SLOT (HTTP 406) naming the level that cannot be satisfied.
 */
export function pickNodesForVolume(
  topology: Topology,
  rp: ReplicaPlacement,
  prefs: PlacementPrefs,
  random: Random,
): DataNode[] {
  const dcsWithFree = [...topology.dataCenters()].filter((dc) => dc.freeSlots > 0);
  if (dcsWithFree.length === 0)
    throw noSlots(rp, topology.nodeCount === 0 ? "no volume servers" : "every volume server is full");
  if (prefs.dataCenter !== "" && topology.dataCenter(prefs.dataCenter) === undefined) {
    throw new WeedError(ErrorCode.BAD_REQUEST, `data center ${prefs.dataCenter} not found in topology`);
  }
  if (dcsWithFree.length < rp.diffDataCenter + 1) {
    throw noSlots(rp, `need ${rp.diffDataCenter + 1} data centers with free slots, found ${dcsWithFree.length}`);
  }
  const mainDcs = dcsWithFree.filter((dc) => validMainDc(dc, rp, prefs));
  if (mainDcs.length === 0) {
    throw noSlots(
      rp,
      `no data center has ${rp.diffRack + 1} racks with free slots ` +
        `and a rack with ${rp.sameRack + 1} servers with free slots${describePrefs(prefs)}`,
    );
  }
  const mainDc = mainDcs[weightedIndex(mainDcs, freeOf, random)]!;
  const mainRacks = [...mainDc.racks.values()].filter((r) => validMainRack(r, rp, prefs));
  const mainRack = mainRacks[weightedIndex(mainRacks, freeOf, random)]!;

  const rackNodes = nodesWithFree(mainRack);
  const mainCandidates = prefs.dataNode === "" ? rackNodes : rackNodes.filter((n) => n.id === prefs.dataNode);
  const mainNode = mainCandidates[weightedIndex(mainCandidates, freeOf, random)]!;
  const sameRack = pickDistinct(
    rackNodes.filter((n) => n !== mainNode),
    rp.sameRack,
    freeOf,
    random,
  );

  const otherRacks = pickDistinct(
    racksWithFree(mainDc).filter((r) => r !== mainRack),
    rp.diffRack,
    freeOf,
    random,
  );
  const otherDcs = pickDistinct(
    dcsWithFree.filter((dc) => dc !== mainDc),
    rp.diffDataCenter,
    freeOf,
    random,
  );
  const out = [mainNode, ...sameRack];
  for (const rack of otherRacks) out.push(pickNodeIn(nodesWithFree(rack), random));
  for (const dc of otherDcs) {
    const racks = racksWithFree(dc);
    out.push(pickNodeIn(nodesWithFree(racks[weightedIndex(racks, freeOf, random)]!), random));
  }
  return out;
}

function pickNodeIn(nodes: readonly DataNode[], random: Random): DataNode {
  return nodes[weightedIndex(nodes, freeOf, random)]!;
}

function describePrefs(prefs: PlacementPrefs): string {
  const parts: string[] = [];
  if (prefs.dataCenter !== "") parts.push(`dataCenter=${prefs.dataCenter}`);
  if (prefs.rack !== "") parts.push(`rack=${prefs.rack}`);
  if (prefs.dataNode !== "") parts.push(`dataNode=${prefs.dataNode}`);
  return parts.length === 0 ? "" : ` (with ${parts.join(", ")})`;
}
