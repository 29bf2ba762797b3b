// Non-blob routes: /status, /healthz, /readyz, /metrics, the status page at / and /ui/index.html, OPTIONS.
// SeaweedFS: weed/server/volume_server_handlers_admin.go.
import type { IncomingMessage, ServerResponse } from "node:http";
import { statfs } from "node:fs/promises";
import { ErrorCode, WeedError } from "../common/errors.js";
import { sendError, sendJson } from "../common/http-util.js";
import { splitUrl, type VolumeHttpContext } from "./http-context.js";
import { renderStatusPage, volumeSizeLimitOf } from "./status-page.js";
import { volumeStatusJson } from "./volume-messages.js";

const ALLOWED_METHODS = "PUT, POST, GET, HEAD, DELETE, OPTIONS";
/** SeaweedFS's volume server UI path (weed/server/volume_server.go's "/ui/index.html"). */
const STATUS_UI_PATH = "/ui/index.html";

/** The admin paths this server answers; any other path is taken as a fid path. */
export function isAdminPath(path: string): boolean {
  return (
    path === "/" ||
    path === STATUS_UI_PATH ||
    path === "/status" ||
    path === "/healthz" ||
    path === "/readyz" ||
    path === "/metrics" ||
    path === "/favicon.ico"
  );
}

export function handleOptions(res: ServerResponse): void {
  res.writeHead(200, {
    Allow: ALLOWED_METHODS,
    "Access-Control-Allow-Methods": ALLOWED_METHODS,
    "Access-Control-Allow-Headers": "*",
    "Content-Length": 0,
  });
  res.end();
}

export function methodNotAllowed(method: string | undefined, path: string, allow: string): WeedError {
  return new WeedError(
    ErrorCode.METHOD_NOT_ALLOWED,
    `method ${method ?? "?"} not allowed on ${path} (allowed: ${allow})`,
  );
}

export async function handleAdmin(ctx: VolumeHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = splitUrl(req.url ?? "/");
  if (req.method === "OPTIONS") return handleOptions(res);
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", "GET, HEAD, OPTIONS");
    throw methodNotAllowed(req.method, path, "GET, HEAD, OPTIONS");
  }
  switch (path) {
    case "/status":
      return sendStatus(ctx, res, query);
    case "/healthz":
      if (!ctx.running()) return sendError(res, new WeedError(ErrorCode.CLOSED, "volume server is stopping"));
      return sendEmpty(res);
    case "/readyz":
      return sendReady(ctx, res);
    case "/metrics": {
      const text = await ctx.metrics.metrics();
      res.writeHead(200, { "Content-Type": ctx.metrics.contentType, "Content-Length": Buffer.byteLength(text) });
      res.end(req.method === "HEAD" ? undefined : text);
      return;
    }
    case "/":
    case STATUS_UI_PATH:
      return sendStatusPage(ctx, req, res);
    default:
      // /favicon.ico: browsers ask for it on the status page.
      return sendError(res, new WeedError(ErrorCode.NOT_FOUND, `${path} not found`));
  }
}

async function sendStatusPage(ctx: VolumeHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const disk = await diskStatus(ctx.dir);
  const hb = ctx.heartbeat();
  const html = renderStatusPage({
    version: ctx.version,
    serverId: ctx.serverId,
    publicUrl: ctx.publicUrl,
    dir: ctx.dir,
    maxVolumeCount: ctx.store.maxVolumeCount,
    heartbeat: hb,
    volumes: ctx.store.volumeInfos().sort((a, b) => a.id - b.id),
    disks: disk === undefined ? [] : [{ dir: disk.dir, totalBytes: disk.all, freeBytes: disk.free }],
    volumeSizeLimitBytes: volumeSizeLimitOf(hb),
  });
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(html) });
  res.end(req.method === "HEAD" ? undefined : html);
}

function sendEmpty(res: ServerResponse): void {
  res.writeHead(200, { "Content-Length": 0 });
  res.end();
}

function sendReady(ctx: VolumeHttpContext, res: ServerResponse): void {
  if (!ctx.running()) return sendError(res, new WeedError(ErrorCode.CLOSED, "volume server is stopping"));
  const hb = ctx.heartbeat();
  // Without a master there is nothing to wait for; with one, ready means the leader has our report.
  if (hb !== undefined && !hb.connected) {
    return sendError(
      res,
      new WeedError(
        ErrorCode.UNAVAILABLE,
        `not heartbeating to a master yet (trying ${hb.currentMaster ?? hb.masters.join(",")})`,
      ),
    );
  }
  sendEmpty(res);
}

interface DiskStatus {
  dir: string;
  all: number;
  used: number;
  free: number;
  percent_free: number;
  percent_used: number;
  disk_type: string;
}

async function diskStatus(dir: string): Promise<DiskStatus | undefined> {
  try {
    const s = await statfs(dir);
    const all = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    const used = all - s.bfree * s.bsize;
    return {
      dir,
      all,
      used,
      free,
      percent_free: all === 0 ? 0 : (free / all) * 100,
      percent_used: all === 0 ? 0 : (used / all) * 100,
      disk_type: "hdd",
    };
  } catch {
    return undefined; // a status page must not fail because statfs did
  }
}

async function sendStatus(ctx: VolumeHttpContext, res: ServerResponse, query: string): Promise<void> {
  const volumes = ctx.store
    .volumeInfos()
    .sort((a, b) => a.id - b.id)
    .map(volumeStatusJson);
  const disk = await diskStatus(ctx.dir);
  const pretty = query !== "" && new URLSearchParams(query).has("pretty");
  sendJson(
    res,
    200,
    { Version: ctx.version, DiskStatuses: disk === undefined ? [] : [disk], Volumes: volumes },
    pretty,
  );
}
