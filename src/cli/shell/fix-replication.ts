// `volume.fix.replication [-apply] [-collectionPattern=...]` (SeaweedFS
// weed/shell/command_volume_fix_replication.go): a volume with fewer copies than its placement
// asks for gets one more, copied (VolumeCopy on the target, which pulls from a holder) to the
// server with the most free slots that keeps the placement; a volume with more loses one
// (VolumeDelete). Dry run unless -apply. Unlike SeaweedFS, misplaced-but-complete replica sets
// are left alone, and one pass fixes one copy per volume (run it again for a second).
import { copyCount, formatReplicaPlacement } from "../../common/replica-placement.js";
import { pickSource, pickTarget, pickToTrim, type Place } from "../../master/repair/plan.js";
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

export interface FixOptions {
  apply: boolean;
  collectionPattern: string;
}

/** SeaweedFS's wildcard match: `*` any run, `?` one character; "" matches every collection. */
export function collectionMatcher(pattern: string): (collection: string) => boolean {
  if (pattern === "") return () => true;
  const re = new RegExp(
    "^" +
      pattern
        .split("")
        .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
        .join("") +
      "$",
  );
  return (c) => re.test(c);
}

const placeOf = (n: NodeView): Place => ({ dataCenter: n.dataCenter, rack: n.rack, node: n.url });

/** The planner's view of a holder: its place and what it holds. */
function holdersOf(v: VolumeReplicas): (Place & { fileCount: number; size: number; view: NodeView })[] {
  return v.holders.map((h) => ({
    ...placeOf(h.node),
    fileCount: h.replica.fileCount,
    size: h.replica.size,
    view: h.node,
  }));
}

/** The server with the most free slots (reserved ones counted) that keeps the placement. */
function pickTargetNode(c: ClusterView, v: VolumeReplicas, reserved: Map<string, number>): NodeView | undefined {
  const free = (n: NodeView): number => n.maxVolumes - n.volumes.length - (reserved.get(n.url) ?? 0);
  const candidates = c.nodes
    .filter((n) => n.grpcAddress.split(":")[1] !== "0")
    .map((n) => ({ ...placeOf(n), freeSlots: free(n), view: n }));
  return pickTarget(v.placement, holdersOf(v), candidates)?.view;
}

async function copyTo(master: string, vid: number, src: NodeView, dst: NodeView, io: CommandIo): Promise<void> {
  const onProgress = (bytes: number): void => void io.out.write(`  volume ${vid}: ${bytes} bytes copied\n`);
  const r = await copyReplica(vid, src.grpcAddress, dst.grpcAddress, { timeoutMs: replicaCopyTimeoutMs, onProgress });
  io.out.write(`  volume ${vid} copied to ${dst.url} (${r.catchUpRounds} catch-up rounds)\n`);
  await waitForLocation(master, vid, dst.url);
}

/** One volume's fix: returns false when it could not be done (no room, or a failed call). */
async function fixOne(
  master: string,
  c: ClusterView,
  v: VolumeReplicas,
  o: FixOptions,
  reserved: Map<string, number>,
  io: CommandIo,
): Promise<boolean> {
  const rp = formatReplicaPlacement(v.placement);
  const have = v.holders.length;
  const want = copyCount(v.placement);
  if (have > want) {
    const victim = pickToTrim(holdersOf(v))!.view;
    io.out.write(`volume ${v.id} replication ${rp}, but over replicated ${have}/${want}: `);
    io.out.write(`deleting the replica on ${victim.url}\n`);
    if (o.apply) await deleteReplica(v.id, victim.grpcAddress);
    return true;
  }
  io.out.write(`volume ${v.id} replication ${rp}, but under replicated ${have}/${want}\n`);
  const dst = pickTargetNode(c, v, reserved);
  if (dst === undefined) {
    io.out.write(
      `failed to place volume ${v.id} replica as ${rp}: no server with a free slot fits, existing:${have}\n`,
    );
    return false;
  }
  const src = pickSource(holdersOf(v))!.view;
  reserved.set(dst.url, (reserved.get(dst.url) ?? 0) + 1);
  io.out.write(`replicating volume ${v.id} ${rp} from ${src.url} to dataNode ${dst.url} ...\n`);
  if (o.apply) await copyTo(master, v.id, src, dst, io);
  return true;
}

/** Runs the command; resolves false when some volume could not be fixed. */
export async function fixReplication(master: string, o: FixOptions, io: CommandIo): Promise<boolean> {
  if (!o.apply) io.out.write("dry run: nothing is changed; add -apply to copy and delete replicas\n");
  const c = await readCluster(master);
  if (c.nodes.length === 0) throw new Error("no volume servers in the topology");
  const matches = collectionMatcher(o.collectionPattern);
  const todo = [...volumesOf(c).values()]
    .filter((v) => matches(v.collection) && v.holders.length !== copyCount(v.placement))
    .sort((a, b) => a.id - b.id);
  const reserved = new Map<string, number>();
  let ok = true;
  for (const v of todo) {
    try {
      ok = (await fixOne(master, c, v, o, reserved, io)) && ok;
    } catch (err) {
      io.err.write(`volume ${v.id}: ${(err as Error).message}\n`);
      ok = false;
    }
  }
  if (todo.length === 0) io.out.write("every volume has the copies its placement asks for\n");
  return ok;
}
