// `volume.balance [-collection=name] [-apply]` (SeaweedFS weed/shell/command_volume_balance.go):
// evens out how many volumes each server holds, relative to its slots (-max), by moving volumes
// from the fullest server to the emptiest while that lowers the fullest's share. Only volumes of
// -collection count and move when it is given; otherwise all. A move keeps the volume's placement
// (never two replicas on one server; racks and data centers as "xyz" asks).
//
// One move, with nothing lost and no read failing: the source replica is marked read-only (the
// master takes the volume off the writable list, so no write lands on the source alone), the target
// copies it (VolumeCopy, which catches up on what the source appended meanwhile), the master lists
// the new location, then the source replica is deleted; reads are answered by either all along (a
// server that no longer holds it redirects). A volume that was read-only stays so on the target.
// Dry run unless -apply. Unlike SeaweedFS: no per-disk-type or by-disk-usage balancing, no racks or
// nodes filter, one move at a time.
import { formatReplicaPlacement } from "../../common/replica-placement.js";
import { VolumeServer } from "../../gen/volume_server_pb.js";
import { createClient } from "../../grpc/adapter.js";
import { satisfiesPlacement, type Place } from "../../master/repair/plan.js";
import { copyReplica, deleteReplica } from "../../master/repair/replica-calls.js";
import { replicaCopyTimeoutMs } from "../../master/repair/limits.js";
import type { CommandIo } from "../command.js";
import {
  readCluster,
  waitForLocation,
  volumesOf,
  type ClusterView,
  type NodeView,
  type VolumeReplicas,
} from "./cluster-topology.js";

/** A mark call; a server that does not answer in this long fails the move. */
const markTimeoutMs = 30_000;

export interface BalanceOptions {
  /** "" = every collection. */
  collection: string;
  apply: boolean;
}

export interface Move {
  volumeId: number;
  collection: string;
  from: NodeView;
  to: NodeView;
  readOnly: boolean;
}

const placeOf = (n: NodeView): Place => ({ dataCenter: n.dataCenter, rack: n.rack, node: n.url });

interface Load {
  node: NodeView;
  /** Volume ids counted (of the collection, or all) held now, moves planned so far applied. */
  ids: Set<number>;
  /** Slots left, moves planned so far applied. */
  free: number;
}

const share = (l: Load, extra = 0): number => (l.ids.size + extra) / Math.max(1, l.node.maxVolumes);

/**
 * The moves, in order. Each goes from the server with the largest share of its slots used to the
 * one with the smallest that can take one of its volumes, while the target's share after the
 * move stays below the source's before it; bounded by the number of volumes counted.
 */
export function planBalance(c: ClusterView, collection: string): Move[] {
  const volumes = volumesOf(c);
  const counted = (id: number): boolean => collection === "" || volumes.get(id)?.collection === collection;
  const loads = c.nodes.map((node) => ({
    node,
    ids: new Set(node.volumes.map((v) => v.id).filter(counted)),
    free: node.maxVolumes - node.volumes.length,
  }));
  const holders = new Map([...volumes].map(([id, v]) => [id, v.holders.map((h) => h.node)]));
  const moves: Move[] = [];
  const movesMax = loads.reduce((n, l) => n + l.ids.size, 0);
  while (moves.length < movesMax) {
    const byShare = [...loads].sort((a, b) => share(b) - share(a) || a.node.url.localeCompare(b.node.url));
    const from = byShare[0];
    if (from === undefined) break;
    const move = pickMove(from, byShare.slice(1).reverse(), holders, volumes);
    if (move === undefined) break;
    moves.push(move);
    from.ids.delete(move.volumeId);
    from.free++;
    const to = loads.find((l) => l.node === move.to)!;
    to.ids.add(move.volumeId);
    to.free--;
    holders.set(move.volumeId, [...holders.get(move.volumeId)!.filter((n) => n !== from.node), to.node]);
  }
  return moves;
}

/** The first volume of `from` (lowest id) that an emptier target may take, placement kept. */
function pickMove(
  from: Load,
  targets: Load[],
  holders: Map<number, NodeView[]>,
  volumes: Map<number, VolumeReplicas>,
): Move | undefined {
  for (const to of targets) {
    if (to.free <= 0 || share(to, 1) >= share(from)) continue;
    for (const id of [...from.ids].sort((a, b) => a - b)) {
      const v = volumes.get(id)!;
      const others = holders.get(id)!.filter((n) => n !== from.node);
      if (!satisfiesPlacement(v.placement, others.map(placeOf), placeOf(to.node))) continue;
      const replica = v.holders.find((h) => h.node === from.node)?.replica;
      return {
        volumeId: id,
        collection: v.collection,
        from: from.node,
        to: to.node,
        readOnly: replica?.readOnly ?? false,
      };
    }
  }
  return undefined;
}

async function mark(node: NodeView, volumeId: number, readOnly: boolean, persist: boolean): Promise<void> {
  const client = createClient(VolumeServer, node.grpcAddress);
  try {
    if (readOnly) await client.volumeMarkReadonly({ volumeId, persist }, { timeoutMs: markTimeoutMs });
    else await client.volumeMarkWritable({ volumeId }, { timeoutMs: markTimeoutMs });
  } finally {
    client.close();
  }
}

/** Mark the source read-only, copy, wait for the master, delete the source. */
async function applyMove(master: string, m: Move, io: CommandIo): Promise<void> {
  await mark(m.from, m.volumeId, true, false);
  try {
    const r = await copyReplica(m.volumeId, m.from.grpcAddress, m.to.grpcAddress, { timeoutMs: replicaCopyTimeoutMs });
    io.out.write(`  volume ${m.volumeId}: ${r.bytes} bytes copied to ${m.to.url}\n`);
    if (m.readOnly) await mark(m.to, m.volumeId, true, true);
    await waitForLocation(master, m.volumeId, m.to.url);
  } catch (err) {
    // Back as it was: the source takes writes again unless it was read-only before.
    if (!m.readOnly) await mark(m.from, m.volumeId, false, false).catch(() => undefined);
    throw err;
  }
  await deleteReplica(m.volumeId, m.from.grpcAddress);
}

/** Runs the command; resolves false when some move failed (each written to io.err). */
export async function balanceVolumes(master: string, o: BalanceOptions, io: CommandIo): Promise<boolean> {
  if (!o.apply) io.out.write("dry run: nothing is changed; add -apply to move volumes\n");
  const c = await readCluster(master);
  if (c.nodes.length === 0) throw new Error("no volume servers in the topology");
  const moves = planBalance(c, o.collection);
  if (moves.length === 0) io.out.write("the volumes are balanced: nothing to move\n");
  let ok = true;
  for (const m of moves) {
    const rp = formatReplicaPlacement(volumesOf(c).get(m.volumeId)!.placement);
    io.out.write(`moving volume ${m.volumeId} ${rp} from ${m.from.url} to ${m.to.url}\n`);
    if (!o.apply) continue;
    try {
      await applyMove(master, m, io);
    } catch (err) {
      ok = false;
      io.err.write(`volume ${m.volumeId}: ${(err as Error).message}\n`);
    }
  }
  return ok;
}
