// Whether a new replica at a node keeps a volume's placement "xyz" (SeaweedFS
// weed/topology/balancer/replica_placement.go SatisfyReplicaPlacement): never a second copy on a
// node; a new data center only while fewer than x+1 are used; within the main data center(s), a
// new rack only while fewer than y+1 are used; within the main rack(s), fewer than z+1 copies.
import type { ReplicaPlacement } from "../../common/replica-placement.js";

export interface Place {
  dataCenter: string;
  rack: string;
  node: string;
}

function counts<K>(items: readonly Place[], key: (p: Place) => K): Map<K, number> {
  const m = new Map<K, number>();
  for (const p of items) m.set(key(p), (m.get(key(p)) ?? 0) + 1);
  return m;
}

/** Keys with the highest count (SeaweedFS findTopDCKeys). */
function topKeys<K>(m: Map<K, number>): K[] {
  const max = Math.max(0, ...m.values());
  return [...m].filter(([, c]) => c === max).map(([k]) => k);
}

export function satisfiesPlacement(rp: ReplicaPlacement, replicas: readonly Place[], target: Place): boolean {
  if (replicas.some((r) => r.node === target.node)) return false;
  const dcs = counts(replicas, (p) => p.dataCenter);
  if (!dcs.has(target.dataCenter)) return dcs.size < rp.diffDataCenter + 1;
  if (!topKeys(dcs).includes(target.dataCenter)) return false;
  const inDc = replicas.filter((r) => r.dataCenter === target.dataCenter);
  const racks = counts(inDc, (p) => p.rack);
  if (!racks.has(target.rack)) return racks.size < rp.diffRack + 1;
  if (!topKeys(racks).includes(target.rack)) return false;
  return (racks.get(target.rack) ?? 0) < rp.sameRack + 1;
}
