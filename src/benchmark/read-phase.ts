// One read request = GET /<fid> of a random fid from the list, on a random one of the volume servers
// the master's /dir/lookup names (looked up once per volume id and cached), with the length always checked
// and the whole content checked on every readContentCheckEvery-th read.
import { ContentBuffer, contentLength, fidSeed } from "./bench-content.js";
import type { HttpPools } from "./http-pools.js";
import { filePaddingSpanBytes, lookupBodyBytesMax, readContentCheckEvery } from "./limits.js";
import { RequestFailure, readJsonBody } from "./request-failure.js";
import type { RequestFn } from "./phase-runner.js";

export interface ReadParams {
  master: string;
  concurrency: number;
  size: number;
  /** Uniform in [0, 1): which fid each read picks. */
  random: () => number;
}

/** Volume id -> volume server "host:port"s, asked of the master once per volume id. */
class VolumeLocations {
  private readonly cache = new Map<string, Promise<string[]>>();

  constructor(
    private readonly pools: HttpPools,
    private readonly master: string,
  ) {}

  get(vid: string): Promise<string[]> {
    let found = this.cache.get(vid);
    if (found === undefined) {
      found = this.lookup(vid);
      this.cache.set(vid, found);
      // A failed lookup is not cached: the next read of that volume asks again.
      found.catch(() => this.cache.delete(vid));
    }
    return found;
  }

  private async lookup(vid: string): Promise<string[]> {
    const path = `/dir/lookup?volumeId=${encodeURIComponent(vid)}`;
    const res = await this.pools.get(this.master).request({ method: "GET", path });
    const body = await readJsonBody(res, lookupBodyBytesMax, "lookup");
    const locations = body["locations"];
    const urls: string[] = [];
    if (Array.isArray(locations)) {
      for (const loc of locations as unknown[]) {
        const url = (loc as { url?: unknown } | null)?.url;
        if (typeof url === "string" && url !== "") urls.push(url);
      }
    }
    if (res.statusCode !== 200 || urls.length === 0) {
      throw new RequestFailure(
        `lookup volume ${vid}: HTTP ${res.statusCode}: ${String(body["error"] ?? "no locations")}`,
      );
    }
    return urls;
  }
}

async function getOnce(pools: HttpPools, url: string, fid: string): Promise<Uint8Array> {
  const res = await pools.get(url).request({ method: "GET", path: `/${fid}` });
  if (res.statusCode !== 200) {
    const answer = await readJsonBody(res, lookupBodyBytesMax, "read");
    throw new RequestFailure(`read: HTTP ${res.statusCode}: ${String(answer["error"] ?? "")}`);
  }
  return res.body.bytes();
}

/** The request function for the read phase over `fids` (not empty). */
export function readRequests(p: ReadParams, pools: HttpPools, fids: readonly string[]): RequestFn {
  const locations = new VolumeLocations(pools, p.master);
  const buffers: ContentBuffer[] = [];
  for (let w = 0; w < p.concurrency; w++) buffers.push(new ContentBuffer(p.size + filePaddingSpanBytes));

  return async (worker, index) => {
    const fid = fids[Math.floor(p.random() * fids.length)]!;
    const comma = fid.indexOf(",");
    if (comma <= 0) throw new RequestFailure(`bad fid in list: ${JSON.stringify(fid.slice(0, 40))}`);
    const urls = await locations.get(fid.slice(0, comma));
    // Like SeaweedFS's clients: start at a random location of the lookup (reads spread over the
    // replicas), then try the others in turn; the request fails only if all of them do.
    let data: Uint8Array | undefined;
    let lastError: unknown;
    const first = Math.floor(p.random() * urls.length);
    for (let i = 0; i < urls.length; i++) {
      const url = urls[(first + i) % urls.length]!;
      try {
        data = await getOnce(pools, url, fid);
        break;
      } catch (err) {
        lastError = err;
      }
    }
    if (data === undefined) throw lastError;
    const seed = fidSeed(fid);
    const want = contentLength(p.size, seed);
    if (data.length !== want)
      throw new RequestFailure(`read: got ${data.length} bytes, want ${want} (is -size the one used to write?)`);
    if (index % readContentCheckEvery === 0 && !buffers[worker]!.matches(seed, data)) {
      throw new RequestFailure(`read: content differs from what was written`);
    }
    return data.length;
  };
}
