// The small HTML status page at `/`: who this server is, its master, its volumes.
import type { VolumeInfo } from "./storage/store-api.js";
import type { HeartbeatView } from "./http-context.js";
import { formatReplicaPlacement } from "../common/replica-placement.js";
import { formatTtl } from "../common/ttl.js";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function esc(s: string | number | boolean): string {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface StatusPageInput {
  version: string;
  serverId: string;
  publicUrl: string;
  dir: string;
  maxVolumeCount: number;
  heartbeat: HeartbeatView | undefined;
  volumes: VolumeInfo[];
}

const STYLE =
  "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}" +
  "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}";
const HEADINGS = ["id", "collection", "size", "files", "deleted", "deleted bytes", "replication", "ttl", "read-only"]
  .map((h) => `<th>${h}</th>`)
  .join("");

export function renderStatusPage(s: StatusPageInput): string {
  const hb = s.heartbeat;
  const master =
    hb === undefined
      ? "none configured"
      : `${hb.currentMaster ?? "-"} (${hb.connected ? "connected" : "disconnected"}); known: ${hb.masters.join(", ")}`;
  const rows = s.volumes
    .map(
      (v) =>
        `<tr><td>${v.id}</td><td>${esc(v.collection)}</td><td>${v.size}</td><td>${v.fileCount}</td>` +
        `<td>${v.deleteCount}</td><td>${v.deletedByteCount}</td>` +
        `<td>${formatReplicaPlacement(v.replicaPlacement)}</td>` +
        `<td>${esc(formatTtl(v.ttl))}</td><td>${v.readOnly ? "yes" : "no"}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>weed-ts volume ${esc(s.serverId)}</title>
<style>${STYLE}</style>
</head><body>
<h1>weed-ts volume server ${esc(s.serverId)}</h1>
<p>version ${esc(s.version)} &middot; public url ${esc(s.publicUrl)} &middot; dir ${esc(s.dir)}</p>
<p>master: ${esc(master)}</p>
<h2>Volumes (${s.volumes.length} of ${s.maxVolumeCount})</h2>
<table><tr>${HEADINGS}</tr>
${rows}
</table>
</body></html>
`;
}
