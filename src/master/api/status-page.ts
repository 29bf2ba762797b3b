// The small HTML page at "/": who leads, the masters, the volume servers and their volumes
// (the same facts as SeaweedFS's master UI, weed/server/master_ui/master.html).
import { formatReplicaPlacement, replicaPlacementFromByte } from "../../common/replica-placement.js";
import { statusVolumeIdsMax } from "../limits.js";
import type { Topology, VolumeReplicaHealth } from "../topology/topology.js";
import { humanReadableInts } from "./status-json.js";
import { describeSecurity, type SecuritySummary } from "../../common/security/summary.js";
import { httpOrigin } from "../../common/security/https.js";

export interface StatusPageInput {
  version: string;
  leader: string;
  /** This master's id. */
  self: string;
  /** Whether this master leads: only the leader has the topology (volume servers report to it). */
  leading: boolean;
  members: readonly { id: string; role: string }[];
  volumeSizeLimitMB: number;
  maxVolumeId: number;
  topologyId: string;
  uptimeSec: number;
  /** Which protections are on (security.toml, -whiteList); absent = none. */
  security?: SecuritySummary;
}

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]!);
}

function link(addr: string): string {
  return `<a href="${esc(httpOrigin(addr))}/">${esc(addr)}</a>`;
}

const STYLE =
  "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}" +
  "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}";

function healthStates(v: VolumeReplicaHealth): string {
  const states: string[] = [];
  if (v.underReplicated) states.push("under-replicated");
  if (v.overReplicated) states.push("over-replicated");
  if (v.readOnly) states.push("read-only");
  if (v.needsCheck) states.push("needs check");
  return states.join(", ");
}

/** Rows of the volumes whose replicas are not healthy, at most statusVolumeIdsMax of them. */
function unhealthyRows(topology: Topology): string[] {
  const all = topology.replicaHealth();
  const rows = all.slice(0, statusVolumeIdsMax).map((v) => {
    const rp = formatReplicaPlacement(replicaPlacementFromByte(v.replicaPlacement));
    const where = v.holders.map((n) => link(n.publicUrl)).join("<br>") || "none";
    return (
      `<tr><td>${v.id}</td><td>${esc(v.collection)}</td><td>${rp}</td>` +
      `<td>${v.holders.length} / ${v.copiesWanted}</td><td>${healthStates(v)}</td><td>${where}</td></tr>`
    );
  });
  if (all.length > rows.length)
    rows.push(`<tr><td colspan="6">... and ${all.length - rows.length} more (see /dir/status)</td></tr>`);
  return rows;
}

function securityLine(s: SecuritySummary | undefined): string {
  if (s === undefined || !s.Enabled)
    return "off: anyone who can reach these ports can write, delete and change the cluster";
  return describeSecurity(s);
}

export function renderStatusPage(topology: Topology, p: StatusPageInput): string {
  const rows: string[] = [];
  for (const dc of topology.dataCenters()) {
    for (const rack of dc.racks.values()) {
      for (const n of rack.nodes.values()) {
        rows.push(
          `<tr><td>${esc(dc.id)}</td><td>${esc(rack.id)}</td><td>${link(n.publicUrl)}</td><td>${n.volumes.size}</td>` +
            `<td>${esc(humanReadableInts([...n.volumes.keys()]))}</td><td>${n.maxVolumes}</td></tr>`,
        );
      }
    }
  }
  const layouts = [...topology.allLayouts()]
    .filter((l) => l.volumeCount > 0)
    .map(
      (l) =>
        `<tr><td>${esc(l.collection)}</td><td>${l.replicationText}</td><td>${esc(l.ttlText)}</td>` +
        `<td>${l.volumeCount}</td><td>${esc(humanReadableInts(l.writableIds()))}</td></tr>`,
    );
  const seeLeader = p.leader === "" || p.leader === "(none)" ? "it once one is elected" : link(p.leader);
  const leaderOnly = (title: string, table: string): string =>
    p.leading
      ? `<h2>${title}</h2>\n${table}`
      : `<h2>${title}</h2>\n<p>Volume servers report to the leader: see ${seeLeader}.</p>`;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>weed-ts master</title>
<style>${STYLE}</style>
</head><body>
<h1>weed-ts master</h1><p>${esc(p.version)}</p>
<h2>Cluster status</h2>
<table>
<tr><th>Leader</th><td>${link(p.leader)}</td></tr>
<tr><th>This master</th><td>${esc(p.self)} (${p.leading ? "leader" : "not the leader"})</td></tr>
<tr><th>Masters</th><td>${p.members.map((m) => `${link(m.id)} (${esc(m.role)})`).join("<br>")}</td></tr>
<tr><th>Volume Size Limit</th><td>${p.volumeSizeLimitMB} MB</td></tr>
${p.leading ? `<tr><th>Free / Max volume slots</th><td>${topology.freeSlots} / ${topology.maxSlots}</td></tr>` : ""}
<tr><th>Max Volume Id</th><td>${p.maxVolumeId}</td></tr>
<tr><th>Topology Id</th><td>${esc(p.topologyId)}</td></tr>
<tr><th>Security</th><td>${esc(securityLine(p.security))}</td></tr>
<tr><th>Up Time</th><td>${Math.floor(p.uptimeSec)} s</td></tr>
</table>
${leaderOnly(
  "Topology",
  `<table><tr><th>Data Center</th><th>Rack</th><th>RemoteAddr</th><th>#Volumes</th><th>Volume Ids</th><th>Max</th></tr>
${rows.join("\n") || '<tr><td colspan="6">no volume servers</td></tr>'}
</table>`,
)}
${leaderOnly(
  "Layouts",
  `<table><tr><th>Collection</th><th>Replication</th><th>TTL</th><th>#Volumes</th><th>Writable</th></tr>
${layouts.join("\n") || '<tr><td colspan="5">no volumes</td></tr>'}
</table>`,
)}
${leaderOnly(
  "Volumes needing attention",
  `<table><tr><th>Volume</th><th>Collection</th><th>Replication</th><th>Copies</th><th>State</th><th>Locations</th></tr>
${unhealthyRows(topology).join("\n") || '<tr><td colspan="6">none</td></tr>'}
</table>`,
)}
</body></html>
`;
}
