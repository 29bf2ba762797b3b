// DELETE /<fid>: appends a tombstone. SeaweedFS: weed/server/volume_server_handlers_write.go
// DeleteHandler: 202 {"size":N}; 404 {"size":0} when absent; a wrong cookie is 400 with its own
// message there (unlike reads, where it is 404).
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, WeedError } from "../common/errors.js";
import { parseFidPath } from "../common/fid.js";
import { sendJson } from "../common/http-util.js";
import { splitUrl, type VolumeHttpContext } from "./http-context.js";

export async function handleDelete(ctx: VolumeHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = splitUrl(req.url ?? "/");
  const { fid } = parseFidPath(path);
  const fsync = ctx.fsync || (query !== "" && new URLSearchParams(query).get("fsync") === "true");
  let size: number;
  try {
    size = await ctx.store.delete(fid.volumeId, fid.key, fid.cookie, { fsync });
  } catch (err) {
    if (err instanceof WeedError && err.code === ErrorCode.NOT_FOUND) {
      sendJson(res, 404, { size: 0 });
      return;
    }
    if (err instanceof WeedError && err.code === ErrorCode.COOKIE_MISMATCH) {
      sendJson(res, 400, { error: "File Random Cookie does not match." });
      return;
    }
    throw err;
  }
  sendJson(res, 202, { size });
}
