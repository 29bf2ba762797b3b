// Where a missing replica goes, where it is copied from, and which extra replica goes: the pure
// placement decisions behind both `volume.fix.replication` (the shell, from /dir/status) and the
// leader's own repair (from its topology). Both map their nodes to the shapes here; nothing here
// does I/O.
import { copyCount, type ReplicaPlacement } from "../../common/replica-placement.js";

/** Where a replica is, or could be. `node` is the server's identity (its "ip:port"). */
export interface Place {
  dataCenter: string;
  rack: string;
  node: string;
}

/** A server that could take a new replica; `freeSlots` already net of copies promised to it. */
export interface Candidate extends Place {
  freeSlots: number;
}

/** A server that holds a replica, with what it holds. */
export interface Holder extends Place {
  fileCount: number;
  size: number;
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

/**
 * Whether a new replica at `target` keeps placement "xyz" (SeaweedFS
 * weed/topology/balancer/replica_placement.go SatisfyReplicaPlacement): never a second copy on a
 * node; a new data center only while fewer than x+1 are used; within the main data center(s), a
 * new rack only while fewer than y+1 are used; within the main rack(s), fewer than z+1 copies.
 */
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

/** Copies the placement asks for minus the copies there are (> 0: under-replicated). */
export function missingCopies(rp: ReplicaPlacement, holders: number): number {
  return copyCount(rp) - holders;
}

/**
 * The candidate with the most free slots that keeps the placement (ties: the lowest id, so a plan
 * is the same every time it is made); undefined when none fits.
 */
export function pickTarget<C extends Candidate>(
  rp: ReplicaPlacement,
  holders: readonly Place[],
  candidates: readonly C[],
): C | undefined {
  return candidates
    .filter((n) => n.freeSlots > 0 && satisfiesPlacement(rp, holders, n))
    .sort((a, b) => b.freeSlots - a.freeSlots || a.node.localeCompare(b.node))[0];
}

/** The fullest replica (most files, then largest) is the one to copy from: it missed the least. */
export function pickSource<H extends Holder>(holders: readonly H[]): H | undefined {
  return [...holders].sort((a, b) => b.fileCount - a.fileCount || b.size - a.size)[0];
}

/** The emptiest replica (fewest files, then smallest) is the one to trim. */
export function pickToTrim<H extends Holder>(holders: readonly H[]): H | undefined {
  return [...holders].sort((a, b) => a.fileCount - b.fileCount || a.size - b.size)[0];
}
