// DELETE /<fid>: appends a tombstone. SeaweedFS: weed/server/volume_server_handlers_write.go
// DeleteHandler: 202 {"size":N}; 404 {"size":0} when absent; a wrong cookie is 400 with its own
// message there (unlike reads, where it is 404).
//
// A replicated volume's delete goes to every other replica as `DELETE ...?type=replicate`
// (weed/topology/store_replicate.go ReplicatedDelete) and is answered once all confirmed; a
// replica already without the needle confirms (404). It goes to the replicas even when this
// server had no such needle, so that a copy left on one replica by an earlier failure goes too.
// A server that does not hold the volume sends the delete to every location.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, WeedError } from "../common/errors.js";
import { parseFidPath } from "../common/fid.js";
import { sendJson } from "../common/http-util.js";
import { splitUrl, type VolumeHttpContext } from "./http-context.js";
import type { PeerAnswer } from "./replication/replica-client.js";
import { authorizeFidNow } from "./fid-auth.js";

type LocalDelete = { status: 202; size: number } | { status: 404 } | { status: 400 };

async function deleteHere(
  ctx: VolumeHttpContext,
  fid: ReturnType<typeof parseFidPath>["fid"],
  fsync: boolean,
): Promise<LocalDelete> {
  try {
    return { status: 202, size: await ctx.store.delete(fid.volumeId, fid.key, fid.cookie, { fsync }) };
  } catch (err) {
    if (err instanceof WeedError && err.code === ErrorCode.NOT_FOUND) return { status: 404 };
    if (err instanceof WeedError && err.code === ErrorCode.COOKIE_MISMATCH) return { status: 400 };
    throw err;
  }
}

/** The size a replica reports deleting, undefined when it had no such needle. */
function deletedSize(a: PeerAnswer): number | undefined {
  if (a.status !== 202 && a.status !== 200) return undefined;
  try {
    const size = (JSON.parse(a.text) as { size?: unknown }).size;
    return typeof size === "number" ? size : 0;
  } catch {
    return 0;
  }
}

export async function handleDelete(ctx: VolumeHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = splitUrl(req.url ?? "/");
  const { fid } = parseFidPath(path);
  const key = ctx.fidTokens?.write;
  const checked = key === undefined ? undefined : authorizeFidNow(key, req, path, query);
  const auth = typeof checked === "object" ? await checked : checked;
  const p = query === "" ? undefined : new URLSearchParams(query);
  const fsync = ctx.fsync || p?.get("fsync") === "true";
  const replicate = p?.get("type") === "replicate";
  const held = ctx.store.hasVolume(fid.volumeId);
  if (!held && replicate) {
    throw new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${fid.volumeId} not found on ${ctx.serverId}`);
  }
  const to = replicate ? [] : await ctx.replicator.plan(fid.volumeId, "delete");
  const here: LocalDelete = held ? await deleteHere(ctx, fid, fsync) : { status: 404 };
  // A wrong cookie here is the client's mistake: no replica is asked to act on it.
  if (here.status === 400) return sendJson(res, 400, { error: "File Random Cookie does not match." });
  const there = to.length === 0 ? [] : await ctx.replicator.delete(path, fid.volumeId, to, fsync, auth);
  if (here.status === 202) return sendJson(res, 202, { size: here.size });
  const sizes = there.map(deletedSize).filter((s): s is number => s !== undefined);
  if (sizes.length > 0) return sendJson(res, 202, { size: Math.max(...sizes) });
  sendJson(res, 404, { size: 0 });
}
