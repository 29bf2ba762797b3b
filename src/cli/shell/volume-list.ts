// `volume.list`: the topology tree with every volume replica, in SeaweedFS's shape
// (weed/shell/command_volume_list.go at -v 5: Topology / DataCenter / Rack / DataNode / Disk /
// volume lines, each level closed by its totals). Ours: a volume with fewer copies than its
// placement asks for is marked `under_replicated:<have>/<want>`, one the master found at or over
// -volumeSizeLimitMB `full:true` (off the writable list, still readable); after the tree, one line
// per collection: its volumes, replicas and totals (what /col/delete would remove).
import { copyCount, replicaPlacementToByte } from "../../common/replica-placement.js";
import { type ClusterView, type NodeView, type ReplicaView, volumesOf } from "./cluster-topology.js";

interface Totals {
  size: number;
  fileCount: number;
  deletedFiles: number;
  deletedBytes: number;
}

function totalsOf(replicas: readonly ReplicaView[]): Totals {
  const t: Totals = { size: 0, fileCount: 0, deletedFiles: 0, deletedBytes: 0 };
  for (const r of replicas) {
    t.size += r.size;
    t.fileCount += r.fileCount;
    t.deletedFiles += r.deleteCount;
    t.deletedBytes += r.deletedByteCount;
  }
  return t;
}

function totalsText(t: Totals): string {
  const del = t.deletedFiles > 0 ? ` deleted_file:${t.deletedFiles} deleted_bytes:${t.deletedBytes}` : "";
  return `total size:${t.size} file_count:${t.fileCount}${del}`;
}

function slotsText(nodes: readonly NodeView[]): string {
  const used = nodes.reduce((a, n) => a + n.volumes.length, 0);
  const max = nodes.reduce((a, n) => a + n.maxVolumes, 0);
  return `hdd(volume:${used}/${max} active:${used} free:${max - used} remote:0)`;
}

function volumeLine(r: ReplicaView, holders: number, full: boolean): string {
  const want = copyCount(r.placement);
  const under = holders < want ? ` under_replicated:${holders}/${want}` : "";
  const collection = r.collection === "" ? "" : ` collection:${JSON.stringify(r.collection)}`;
  const del = r.deleteCount > 0 ? ` delete_count:${r.deleteCount} deleted_byte_count:${r.deletedByteCount}` : "";
  const rp = replicaPlacementToByte(r.placement);
  return (
    `volume id:${r.id} size:${r.size}${collection} file_count:${r.fileCount}${del} replica_placement:${rp}` +
    ` version:${r.version}${r.readOnly ? " read_only:true" : ""}${full ? " full:true" : ""}` +
    ` modified_at_second:${r.modifiedAtSecond}${under}`
  );
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of [...items].sort((a, b) => key(a).localeCompare(key(b)))) {
    const list = out.get(key(it)) ?? [];
    list.push(it);
    out.set(key(it), list);
  }
  return out;
}

/** The volume.list text for the whole cluster. */
export function formatVolumeList(c: ClusterView): string {
  const holders = new Map([...volumesOf(c)].map(([id, v]) => [id, v.holders.length]));
  const lines: string[] = [`Topology ${slotsText(c.nodes)}`];
  const all = c.nodes.flatMap((n) => n.volumes);
  for (const [dc, dcNodes] of groupBy(c.nodes, (n) => n.dataCenter)) {
    lines.push(`  DataCenter ${dc} ${slotsText(dcNodes)}`);
    for (const [rack, rackNodes] of groupBy(dcNodes, (n) => n.rack)) {
      lines.push(`    Rack ${rack} ${slotsText(rackNodes)}`);
      for (const n of [...rackNodes].sort((a, b) => a.url.localeCompare(b.url))) {
        lines.push(`      DataNode ${n.url} ${slotsText([n])}`);
        lines.push(`        Disk hdd(${slotsText([n]).slice(4, -1)}) id:0`);
        for (const r of n.volumes) lines.push(`          ${volumeLine(r, holders.get(r.id) ?? 0, c.full.has(r.id))}`);
        lines.push(`        Disk hdd ${totalsText(totalsOf(n.volumes))}`);
        lines.push(`      DataNode ${n.url} ${totalsText(totalsOf(n.volumes))}`);
      }
      lines.push(`    Rack ${rack} ${totalsText(totalsOf(rackNodes.flatMap((n) => n.volumes)))}`);
    }
    lines.push(`  DataCenter ${dc} ${totalsText(totalsOf(dcNodes.flatMap((n) => n.volumes)))}`);
  }
  lines.push(totalsText(totalsOf(all)));
  lines.push(...collectionLines(all));
  return lines.join("\n") + "\n";
}

/** "Collection <name> volumes:N replicas:M total size:..." per collection ("" is the default one). */
function collectionLines(replicas: readonly ReplicaView[]): string[] {
  const lines: string[] = [];
  for (const [name, of] of groupBy(replicas, (r) => r.collection)) {
    const volumes = new Set(of.map((r) => r.id)).size;
    lines.push(
      `Collection ${JSON.stringify(name)} volumes:${volumes} replicas:${of.length} ${totalsText(totalsOf(of))}`,
    );
  }
  return lines;
}
