// One write request = POST /dir/assign on the master + PUT of the bytes to the assigned volume
// server (raw body, mime image/bench so nothing is gzipped), timed together as SeaweedFS does.
import { setTimeout as sleep } from "node:timers/promises";
import { ContentBuffer, contentLength, fidSeed } from "./bench-content.js";
import type { FidListWriter } from "./fid-list.js";
import type { HttpPools } from "./http-pools.js";
import { assignRetriesMax, assignRetryWaitMsMax, filePaddingSpanBytes, lookupBodyBytesMax } from "./limits.js";
import { RequestFailure, readJsonBody } from "./request-failure.js";
import type { RequestFn } from "./phase-runner.js";

export interface WriteParams {
  master: string;
  concurrency: number;
  size: number;
  collection: string;
  replication: string;
  fsync: boolean;
}

interface Assignment {
  fid: string;
  url: string;
  auth: string | undefined;
}

function assignPath(p: WriteParams): string {
  const q = new URLSearchParams({ count: "1", collection: p.collection, replication: p.replication });
  return `/dir/assign?${q.toString()}`;
}

function retryWaitMs(retryAfter: string | string[] | undefined): number {
  const sec = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  return Number.isFinite(sec) && sec >= 0 ? Math.min(sec * 1000, assignRetryWaitMsMax) : assignRetryWaitMsMax;
}

async function assign(pools: HttpPools, master: string, path: string, signal: AbortSignal): Promise<Assignment> {
  for (let attempt = 0; ; attempt++) {
    const res = await pools.get(master).request({ method: "POST", path });
    const body = await readJsonBody(res, lookupBodyBytesMax, "assign");
    if (res.statusCode === 503 && attempt < assignRetriesMax) {
      await sleep(retryWaitMs(res.headers["retry-after"]), undefined, { signal });
      continue;
    }
    const fid = body["fid"];
    const url = body["url"];
    if (res.statusCode !== 200 || typeof fid !== "string" || typeof url !== "string" || fid === "" || url === "") {
      throw new RequestFailure(`assign: HTTP ${res.statusCode}: ${String(body["error"] ?? "no fid in answer")}`);
    }
    const auth = res.headers["authorization"];
    return { fid, url, auth: typeof auth === "string" ? auth : undefined };
  }
}

/** The request function for the write phase; every uploaded fid is added to `list`. */
export function writeRequests(p: WriteParams, pools: HttpPools, list: FidListWriter): RequestFn {
  const path = assignPath(p);
  const query = p.fsync ? "?fsync=true" : "";
  const buffers: ContentBuffer[] = [];
  for (let w = 0; w < p.concurrency; w++) buffers.push(new ContentBuffer(p.size + filePaddingSpanBytes));

  return async (worker, _index, signal) => {
    const a = await assign(pools, p.master, path, signal);
    const seed = fidSeed(a.fid);
    const body = buffers[worker]!.fill(seed, contentLength(p.size, seed));
    const headers: Record<string, string> = { "content-type": "image/bench" };
    if (a.auth !== undefined) headers["authorization"] = a.auth;
    const res = await pools.get(a.url).request({ method: "PUT", path: `/${a.fid}${query}`, headers, body });
    if (res.statusCode !== 201 && res.statusCode !== 204) {
      const answer = await readJsonBody(res, lookupBodyBytesMax, "upload");
      throw new RequestFailure(`upload: HTTP ${res.statusCode}: ${String(answer["error"] ?? "")}`);
    }
    await res.body.dump();
    list.add(a.fid);
    return body.length;
  };
}
