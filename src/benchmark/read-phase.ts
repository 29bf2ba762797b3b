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
  /**
   * Reads need a token ([jwt.signing.read] in the -security file): each read first asks the master
   * for one (/dir/lookup?fileId=..&read=yes, as SeaweedFS's LookupFileId). Also turned on by the
   * first read answered 401, so a run without -security still reads from such a cluster.
   */
  signedReads?: boolean;
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
    return (await lookupAt(this.pools, this.master, `/dir/lookup?volumeId=${encodeURIComponent(vid)}`, `volume ${vid}`))
      .urls;
  }
}

/** A master's /dir/lookup answer: the locations' urls, and the token it signed (`auth`), if any. */
async function lookupAt(
  pools: HttpPools,
  master: string,
  path: string,
  what: string,
): Promise<{ urls: string[]; auth: string | undefined }> {
  const res = await pools.get(master).request({ method: "GET", path });
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
    throw new RequestFailure(`lookup ${what}: HTTP ${res.statusCode}: ${String(body["error"] ?? "no locations")}`);
  }
  const auth = body["auth"];
  return { urls, auth: typeof auth === "string" && auth !== "" ? auth : undefined };
}

/** A read answered 401: the cluster signs reads, and this read had no (valid) token. */
class ReadUnauthorized extends RequestFailure {}

async function getOnce(pools: HttpPools, url: string, fid: string, auth: string | undefined): Promise<Uint8Array> {
  const headers = auth === undefined ? {} : { authorization: `Bearer ${auth}` };
  const res = await pools.get(url).request({ method: "GET", path: `/${fid}`, headers });
  if (res.statusCode !== 200) {
    const answer = await readJsonBody(res, lookupBodyBytesMax, "read");
    const why = `read: HTTP ${res.statusCode}: ${String(answer["error"] ?? "")}`;
    throw res.statusCode === 401 ? new ReadUnauthorized(why) : new RequestFailure(why);
  }
  return res.body.bytes();
}

/** The request function for the read phase over `fids` (not empty). */
export function readRequests(p: ReadParams, pools: HttpPools, fids: readonly string[]): RequestFn {
  const locations = new VolumeLocations(pools, p.master);
  const buffers: ContentBuffer[] = [];
  for (let w = 0; w < p.concurrency; w++) buffers.push(new ContentBuffer(p.size + filePaddingSpanBytes));
  let signed = p.signedReads === true;
  const signedLookup = (fid: string) =>
    lookupAt(pools, p.master, `/dir/lookup?fileId=${encodeURIComponent(fid)}&read=yes`, fid);
  // Like SeaweedFS's clients: start at a random location of the lookup (reads spread over the
  // replicas), then try the others in turn; the request fails only if all of them do.
  const readAnywhere = async (at: string[] | { urls: string[]; auth: string | undefined }, fid: string) => {
    const { urls, auth } = Array.isArray(at) ? { urls: at, auth: undefined } : at;
    let lastError: unknown;
    const first = Math.floor(p.random() * urls.length);
    for (let i = 0; i < urls.length; i++) {
      try {
        return await getOnce(pools, urls[(first + i) % urls.length]!, fid, auth);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };

  return async (worker, index) => {
    const fid = fids[Math.floor(p.random() * fids.length)]!;
    const comma = fid.indexOf(",");
    if (comma <= 0) throw new RequestFailure(`bad fid in list: ${JSON.stringify(fid.slice(0, 40))}`);
    let data: Uint8Array;
    try {
      data = await readAnywhere(signed ? await signedLookup(fid) : await locations.get(fid.slice(0, comma)), fid);
    } catch (err) {
      if (signed || !(err instanceof ReadUnauthorized)) throw err;
      signed = true;
      data = await readAnywhere(await signedLookup(fid), fid);
    }
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
