// The master's HTML page at "/", rendered here from plain data (status-data.ts, status-view.ts):
// a red banner when there is no leader or no quorum, every master with its own word on its role,
// every volume server with its sizes and last heartbeat, the servers that left and the volumes
// they took with them. Plain HTML and CSS, no script (SeaweedFS: weed/server/master_ui/master.html).
import type { IncomingMessage, ServerResponse } from "node:http";
import { humanBytes, humanDuration, percentOf } from "../../common/human-size.js";
import { httpOrigin } from "../../common/security/https.js";
import type { SecuritySummary } from "../../common/security/summary.js";
import { departedKeepMs, departedServersMax } from "./volume-server-records.js";
import { MasterStatusData, type MasterStatusSources, type MasterStatusView } from "./status-data.js";
import { topologyView, type DepartedRow, type MasterRow, type ServerRow, type TopologyView } from "./status-view.js";
import type { Topology } from "../topology/topology.js";
import { describeSecurity } from "../../common/security/summary.js";

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]!);
}

function link(addr: string): string {
  return `<a href="${esc(httpOrigin(addr))}/">${esc(addr)}</a>`;
}

const STYLE = [
  "body{font-family:sans-serif;margin:2em;color:#222}",
  "table{border-collapse:collapse;margin-bottom:1.5em}",
  "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}",
  "th{background:#f3f3f3}td.n{text-align:right}",
  ".banner{background:#c62828;color:#fff;padding:12px 16px;font-size:1.25em;font-weight:bold;margin:1em 0}",
  ".bad{color:#c62828;font-weight:bold}.ok{color:#2e7d32}.muted{color:#777}",
  "tr.dead td{background:#fdecea}meter{width:6em;vertical-align:middle}",
].join("");

/** "2026-12-04 13:42:07 UTC". */
function timeOfDay(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** "12 MiB (41% of 30 MiB)" with a bar, or just the size when the whole is unknown. */
function sizeShare(bytes: number, whole: number, wholeText = humanBytes(whole)): string {
  const share = percentOf(bytes, whole);
  if (share === "") return humanBytes(bytes);
  const bar = `<meter min="0" max="1" high="0.9" value="${Math.min(1, bytes / whole).toFixed(3)}"></meter>`;
  return `${humanBytes(bytes)} (${share} of ${esc(wholeText)}) ${bar}`;
}

function masterRow(m: MasterRow, leader: string | null): string {
  const role = m.reachable
    ? `${esc(m.role)}${m.id === leader && m.role !== "leader" ? " (named leader)" : ""}`
    : `<span class="bad">unreachable</span>`;
  const reach = m.reachable ? `<span class="ok">yes</span>` : `<span class="bad">no</span>: ${esc(m.problem ?? "")}`;
  const heard = m.self ? "this master" : m.lastHeardMs === null ? "never" : `${humanDuration(m.lastHeardMs)} ago`;
  const num = (v: number | null): string => (v === null ? "-" : String(v));
  return (
    `<tr${m.reachable ? "" : ' class="dead"'}><td>${link(m.id)}${m.self ? " (this one)" : ""}</td>` +
    `<td>${role}${m.suffrage === "learner" ? " (learner)" : ""}</td><td>${reach}</td><td>${heard}</td>` +
    `<td class="n">${num(m.term)}</td><td class="n">${num(m.commit)}</td><td class="n">${num(m.applied)}</td></tr>`
  );
}

function mastersTable(v: MasterStatusView): string {
  return `<h2>Masters</h2>
<table><tr><th>Master</th><th>Role</th><th>Reachable</th><th>Last heard (Raft)</th><th>Term</th>
<th>Commit index</th><th>Applied index</th></tr>
${v.masters.map((m) => masterRow(m, v.leader)).join("\n")}
</table>`;
}

function serverRow(s: ServerRow, limit: number): string {
  const capacity = s.maxVolumes * limit;
  const disk =
    s.disk === null
      ? `<td class="muted">unknown</td><td class="muted">unknown</td>`
      : `<td class="n">${humanBytes(s.disk.totalBytes)}</td>` +
        `<td class="n">${humanBytes(s.disk.freeBytes)} (${percentOf(s.disk.freeBytes, s.disk.totalBytes)} free)</td>`;
  const beat = s.lastHeartbeatAgoMs === null ? "-" : `${humanDuration(s.lastHeartbeatAgoMs)} ago`;
  return (
    `<tr><td>${link(s.publicUrl)}</td><td>${esc(s.dataCenter)} / ${esc(s.rack)}</td>` +
    `<td class="n">${s.volumeCount} / ${s.maxVolumes}</td><td class="n">${s.fileCount}</td>` +
    `<td>${sizeShare(s.usedBytes, capacity, `${s.maxVolumes} × ${humanBytes(limit)}`)}</td>${disk}` +
    `<td>${beat}</td><td>${esc(s.volumeIds)}</td></tr>`
  );
}

function serversTable(t: TopologyView): string {
  const more = t.serverCount - t.servers.length;
  const rows = t.servers.map((s) => serverRow(s, t.volumeSizeLimitBytes)).join("\n");
  return `<h2>Volume servers (${t.serverCount})</h2>
<table><tr><th>Server</th><th>Data center / rack</th><th>Volumes</th><th>Files</th><th>Used (of the slots' limit)</th>
<th>Disk total</th><th>Disk free</th><th>Last heartbeat</th><th>Volume ids</th></tr>
${rows || '<tr><td colspan="9">no volume servers</td></tr>'}
${more > 0 ? `<tr><td colspan="9">... and ${more} more (see /dir/status)</td></tr>` : ""}
</table>`;
}

function departedVolumes(d: DepartedRow, limit: number): string {
  if (d.volumes.length === 0) return "none";
  return d.volumes
    .map((v) => {
      const copies =
        v.liveCopies === 0
          ? `<span class="bad">missing: no live copy</span>`
          : `${v.liveCopies} live ${v.liveCopies === 1 ? "copy" : "copies"} elsewhere`;
      const coll = v.collection === "" ? "" : ` "${esc(v.collection)}"`;
      return `volume ${v.id}${coll}: ${sizeShare(v.size, limit)}, ${v.fileCount} files, ${copies}`;
    })
    .join("<br>");
}

function departedTable(t: TopologyView, atMs: number): string {
  if (t.departed.length === 0) return "";
  const rows = t.departed.map(
    (d) =>
      `<tr class="dead"><td>${esc(d.publicUrl)}</td><td>${esc(d.dataCenter)} / ${esc(d.rack)}</td>` +
      `<td class="bad">dead since ${timeOfDay(d.leftAtMs)} (${humanDuration(atMs - d.leftAtMs)} ago)` +
      `${d.how === "left" ? "" : "<br>last heard by the previous leader, not back since this master took over"}</td>` +
      `<td>${d.lastReportAtMs === null ? "-" : timeOfDay(d.lastReportAtMs)}</td>` +
      `<td>${departedVolumes(d, t.volumeSizeLimitBytes)}</td></tr>`,
  );
  const missing = new Set(t.departed.flatMap((d) => d.volumes.filter((v) => v.liveCopies === 0).map((v) => v.id)));
  const lost = missing.size === 0 ? "" : `: ${missing.size} volume${missing.size === 1 ? "" : "s"} with no live copy`;
  return `<h2 class="bad">Volume servers that left (${t.departed.length})${lost}</h2>
<p>Kept for ${humanDuration(departedKeepMs)} after they leave, at most ${departedServersMax};
one that comes back leaves this list.</p>
<table><tr><th>Server</th><th>Data center / rack</th><th>State</th><th>Last heartbeat</th><th>Volumes it held</th></tr>
${rows.join("\n")}
</table>`;
}

function volumeStates(readOnly: boolean, full: boolean): string {
  return [readOnly ? "read-only" : "", full ? "full" : ""].filter((x) => x !== "").join(", ");
}

function volumesTable(t: TopologyView): string {
  const rows = t.volumes.map(
    (v) =>
      `<tr><td class="n">${v.id}</td><td>${esc(v.collection)}</td><td>${v.replication}</td><td>${esc(v.ttl)}</td>` +
      `<td>${sizeShare(v.size, t.volumeSizeLimitBytes)}</td><td class="n">${v.fileCount}</td>` +
      `<td>${v.holders.map(link).join("<br>")}</td>` +
      `<td>${volumeStates(v.readOnly, v.size >= t.volumeSizeLimitBytes)}</td></tr>`,
  );
  const more = t.volumeCount - t.volumes.length;
  return `<h2>Volumes (${t.volumeCount})</h2>
<table><tr><th>Id</th><th>Collection</th><th>Replication</th><th>TTL</th><th>Size (of the limit)</th><th>Files</th>
<th>Locations</th><th>State</th></tr>
${rows.join("\n") || '<tr><td colspan="8">no volumes</td></tr>'}
${more > 0 ? `<tr><td colspan="8">... and ${more} more (see /vol/status)</td></tr>` : ""}
</table>`;
}

function layoutsTable(t: TopologyView): string {
  const rows = t.layouts.map(
    (l) =>
      `<tr><td>${esc(l.collection)}</td><td>${l.replication}</td><td>${esc(l.ttl)}</td>` +
      `<td>${l.volumeCount}</td><td>${esc(l.writable)}</td></tr>`,
  );
  return `<h2>Layouts</h2>
<table><tr><th>Collection</th><th>Replication</th><th>TTL</th><th>#Volumes</th><th>Writable</th></tr>
${rows.join("\n") || '<tr><td colspan="5">no volumes</td></tr>'}
</table>`;
}

function unhealthyTable(t: TopologyView): string {
  const rows = t.unhealthy.map(
    (v) =>
      `<tr><td>${v.id}</td><td>${esc(v.collection)}</td><td>${v.replication}</td>` +
      `<td>${v.holders.length} / ${v.copiesWanted}</td><td>${v.states.join(", ")}</td>` +
      `<td>${v.holders.map(link).join("<br>") || "none"}</td></tr>`,
  );
  if (t.unhealthyCount > rows.length)
    rows.push(`<tr><td colspan="6">... and ${t.unhealthyCount - rows.length} more (see /dir/status)</td></tr>`);
  return `<h2>Volumes needing attention</h2>
<table><tr><th>Volume</th><th>Collection</th><th>Replication</th><th>Copies</th><th>State</th><th>Locations</th></tr>
${rows.join("\n") || '<tr><td colspan="6">none</td></tr>'}
</table>`;
}

function topologySections(v: MasterStatusView): string {
  const t = v.topology;
  if (t === null)
    return `<h2>Volume servers</h2>\n<p class="bad">Topology unknown: ${esc(v.topologyProblem ?? "")}</p>`;
  const from =
    v.topologyFrom !== null && v.topologyFrom !== v.self
      ? `<p>Volume servers report to the leader: see ${link(v.topologyFrom)}. As it sees them:</p>\n`
      : "";
  return [from + serversTable(t), departedTable(t, v.atMs), volumesTable(t), layoutsTable(t), unhealthyTable(t)]
    .filter((s) => s !== "")
    .join("\n");
}

export function renderMasterStatus(v: MasterStatusView): string {
  const t = v.topology;
  const role = v.masters.find((m) => m.self)?.role ?? (v.leading ? "leader" : "not the leader");
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>weed-ts master ${esc(v.self)}</title>
<style>${STYLE}</style>
</head><body>
<h1>weed-ts master ${esc(v.self)}</h1><p>${esc(v.version)}</p>
${v.banner === null ? "" : `<div class="banner" role="alert">${esc(v.banner)}</div>`}
<h2>Cluster status</h2>
<table>
<tr><th>Leader</th><td>${v.leader === null ? '<span class="bad">none</span>' : link(v.leader)}</td></tr>
<tr><th>This master</th><td>${esc(v.self)} (${esc(role)})</td></tr>
<tr><th>Volume Size Limit</th><td>${humanBytes(v.volumeSizeLimitMB * 1024 * 1024)}</td></tr>
${t === null ? "" : `<tr><th>Free / Max volume slots</th><td>${t.freeSlots} / ${t.maxSlots}</td></tr>`}
<tr><th>Max Volume Id</th><td>${v.maxVolumeId}</td></tr>
<tr><th>Topology Id</th><td>${esc(v.topologyId)}</td></tr>
<tr><th>Security</th><td>${esc(v.security)}</td></tr>
<tr><th>Up Time</th><td>${humanDuration(v.uptimeSec * 1000)}</td></tr>
<tr><th>Page made</th><td>${timeOfDay(v.atMs)}</td></tr>
</table>
${mastersTable(v)}
${topologySections(v)}
</body></html>
`;
}

/** Serves "/": the HTML page, or with ?format=json its facts (what a follower fetches from the leader). */
export class MasterStatusPage {
  private readonly data: MasterStatusData;

  constructor(sources: MasterStatusSources) {
    this.data = new MasterStatusData(sources);
  }

  async serve(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    if (q.get("format") === "json") return this.data.sendJson(res, q);
    const html = renderMasterStatus(await this.data.view());
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(html) });
    res.end(req.method === "HEAD" ? undefined : html);
  }

  /** Stops copying the leader's servers and watching the topology. */
  close(): void {
    this.data.close();
  }
}

/** The older, synchronous input: a page from a topology alone, without probes (tests of the sections). */
export interface StatusPageInput {
  version: string;
  leader: string;
  self: string;
  leading: boolean;
  members: readonly { id: string; role: string }[];
  volumeSizeLimitMB: number;
  maxVolumeId: number;
  topologyId: string;
  uptimeSec: number;
  security?: SecuritySummary;
}

export function renderStatusPage(topology: Topology, p: StatusPageInput): string {
  const masters = p.members.map((m): MasterRow => ({
    ...{ id: m.id, self: m.id === p.self, suffrage: "voter", role: m.role, reachable: true },
    ...{ lastHeardMs: null, term: null, commit: null, applied: null, problem: null },
  }));
  const leader = p.leader === "" || p.leader === "(none)" ? null : p.leader;
  return renderMasterStatus({
    ...{ version: p.version, self: p.self, leading: p.leading, leader, banner: null, masters },
    ...{ volumeSizeLimitMB: p.volumeSizeLimitMB, maxVolumeId: p.maxVolumeId, topologyId: p.topologyId },
    uptimeSec: p.uptimeSec,
    security: p.security === undefined || !p.security.Enabled ? "off" : describeSecurity(p.security),
    atMs: 0,
    topology: p.leading ? topologyView(topology, undefined, 0) : null,
    topologyFrom: p.leading ? p.self : null,
    topologyProblem: p.leading ? null : "this master does not lead",
  });
}
