// Volume lookup shared by /dir/lookup, /<fid> redirects and gRPC LookupVolume. The input is a
// bare volume id or a whole fid ("3" or "3,01637037d6"); the text after the comma is ignored.
import type { DataNode, LocationJson } from "./data-node.js";
import { volumeIdMax } from "../limits.js";
import type { Topology } from "./topology.js";

export type LookupOutcome = { ok: true; volumeId: number; nodes: readonly DataNode[] } | { ok: false; error: string };

/** The volume id of "3" or "3,01637037d6", or -1 when it is not one. */
export function volumeIdOf(volumeOrFileId: string): number {
  const comma = volumeOrFileId.indexOf(",");
  const text = comma >= 0 ? volumeOrFileId.slice(0, comma) : volumeOrFileId;
  if (!/^\d{1,10}$/.test(text)) return -1;
  const vid = Number(text);
  return vid > volumeIdMax ? -1 : vid;
}

export function lookupVolume(topology: Topology, volumeOrFileId: string, collection = ""): LookupOutcome {
  const vid = volumeIdOf(volumeOrFileId);
  if (vid < 0) return { ok: false, error: `Unknown volume id ${volumeOrFileId}` };
  const layout = topology.layoutOfVolume(vid);
  const nodes = layout?.lookup(vid);
  if (
    layout === undefined ||
    nodes === undefined ||
    nodes.length === 0 ||
    (collection !== "" && layout.collection !== collection)
  ) {
    return { ok: false, error: `volume id ${vid} not found` };
  }
  return { ok: true, volumeId: vid, nodes };
}

export function locationsOf(nodes: readonly DataNode[]): LocationJson[] {
  return nodes.map((n) => n.location);
}
