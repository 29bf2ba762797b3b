// The volume server's HTML page at `/` and `/ui/index.html` (SeaweedFS's path): who this server
// is, its master, its disks (total and free) and its volumes with their size as a share of the
// master's volume size limit. Plain HTML and CSS, rendered here.
import type { VolumeInfo } from "./storage/store-api.js";
import type { HeartbeatView } from "./http-context.js";
import { formatReplicaPlacement } from "../common/replica-placement.js";
import { formatTtl } from "../common/ttl.js";
import { humanBytes, percentOf } from "../common/human-size.js";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function esc(s: string | number | boolean): string {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface DiskView {
  dir: string;
  totalBytes: number;
  freeBytes: number;
}

export interface StatusPageInput {
  version: string;
  serverId: string;
  publicUrl: string;
  dir: string;
  maxVolumeCount: number;
  heartbeat: HeartbeatView | undefined;
  volumes: VolumeInfo[];
  /** The disks holding -dir; empty when statfs failed. */
  disks: DiskView[];
  /** The master's volume size limit in bytes; 0 before the first answer (or standalone). */
  volumeSizeLimitBytes: number;
}

const STYLE = [
  "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}",
  "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}td.t{text-align:left}",
  ".bad{color:#c62828;font-weight:bold}.ok{color:#2e7d32}meter{width:6em;vertical-align:middle}",
].join("");
const HEADINGS = ["Id", "Collection", "Size (of the limit)", "Files", "Deleted", "Deleted bytes", "Replication", "TTL"]
  .concat(["State"])
  .map((h) => `<th>${h}</th>`)
  .join("");

/** The size limit, if the master told this server (HeartbeatClient.volumeSizeLimit). */
export function volumeSizeLimitOf(hb: HeartbeatView | undefined): number {
  const limit = hb !== undefined && "volumeSizeLimit" in hb ? hb.volumeSizeLimit : undefined;
  return typeof limit === "bigint" ? Number(limit) : 0;
}

function sizeCell(size: number, limit: number): string {
  const share = percentOf(size, limit);
  if (share === "") return humanBytes(size);
  const bar = `<meter min="0" max="1" high="0.9" value="${Math.min(1, size / limit).toFixed(3)}"></meter>`;
  return `${humanBytes(size)} (${share} of ${humanBytes(limit)}) ${bar}`;
}

function volumeRow(v: VolumeInfo, limit: number): string {
  const states = [v.readOnly ? "read-only" : "", limit > 0 && v.size >= limit ? "full" : ""];
  if (v.needsCheck) states.push("needs check");
  const state = states.filter((s) => s !== "").join(", ") || "writable";
  return (
    `<tr><td>${v.id}</td><td class="t">${esc(v.collection)}</td><td>${sizeCell(v.size, limit)}</td>` +
    `<td>${v.fileCount - v.deleteCount}</td><td>${v.deleteCount}</td><td>${humanBytes(v.deletedByteCount)}</td>` +
    `<td>${formatReplicaPlacement(v.replicaPlacement)}</td><td>${esc(formatTtl(v.ttl)) || "-"}</td>` +
    `<td class="t">${state}</td></tr>`
  );
}

function disksTable(disks: DiskView[]): string {
  const rows = disks.map(
    (d) =>
      `<tr><td class="t">${esc(d.dir)}</td><td>${humanBytes(d.totalBytes)}</td><td>${humanBytes(d.freeBytes)}` +
      ` (${percentOf(d.freeBytes, d.totalBytes)} free)</td>` +
      `<td>${sizeCell(d.totalBytes - d.freeBytes, d.totalBytes)}</td></tr>`,
  );
  return `<h2>Disks</h2>
<table><tr><th>Dir</th><th>Total</th><th>Free</th><th>Used</th></tr>
${rows.join("\n") || '<tr><td colspan="4" class="t">unknown (statfs failed)</td></tr>'}
</table>`;
}

function masterLine(hb: HeartbeatView | undefined): string {
  if (hb === undefined) return "none configured (standalone)";
  const state = hb.connected ? `<span class="ok">connected</span>` : `<span class="bad">disconnected</span>`;
  return `${esc(hb.currentMaster ?? "-")} (${state}); known: ${esc(hb.masters.join(", "))}`;
}

export function renderStatusPage(s: StatusPageInput): string {
  const limit = s.volumeSizeLimitBytes;
  const used = s.volumes.reduce((n, v) => n + v.size, 0);
  const files = s.volumes.reduce((n, v) => n + v.fileCount - v.deleteCount, 0);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>weed-ts volume ${esc(s.serverId)}</title>
<style>${STYLE}</style>
</head><body>
<h1>weed-ts volume server ${esc(s.serverId)}</h1>
<p>version ${esc(s.version)} &middot; public url ${esc(s.publicUrl)} &middot; dir ${esc(s.dir)}</p>
<p>master: ${masterLine(s.heartbeat)}</p>
<p>volume size limit: ${limit > 0 ? humanBytes(limit) : "not known yet (no answer from a master)"}</p>
${disksTable(s.disks)}
<h2>Volumes (${s.volumes.length} of ${s.maxVolumeCount}; ${files} files, ${humanBytes(used)})</h2>
<table><tr>${HEADINGS}</tr>
${s.volumes.map((v) => volumeRow(v, limit)).join("\n") || '<tr><td colspan="9" class="t">no volumes</td></tr>'}
</table>
</body></html>
`;
}
