// Assign and grow parameters, validated once at the edge (HTTP form values or the gRPC request)
// into the typed request the assigner takes. Bad replication, ttl or count is a 406 as SeaweedFS.
import { checkCollectionName } from "../../common/collection.js";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { parseReplicaPlacement, replicaPlacementToByte } from "../../common/replica-placement.js";
import { parseTtl, ttlToUint32 } from "../../common/ttl.js";
import type { AssignRequest } from "../topology/assigner.js";
import { assignCountMax, growthCountMax } from "../limits.js";

/** A raw value as it arrives; null, undefined or "" means "not given". */
type Raw = string | null | undefined;

export interface RawAssignParams {
  count?: Raw;
  replication?: Raw;
  collection?: Raw;
  ttl?: Raw;
  dataCenter?: Raw;
  rack?: Raw;
  dataNode?: Raw;
  writableVolumeCount?: Raw;
  preallocate?: Raw;
  memoryMapMaxSizeMb?: Raw;
  disk?: Raw;
}

/** The assign/grow parameters of a query string or form. */
export function rawParamsOf(q: URLSearchParams): RawAssignParams {
  return {
    count: q.get("count"),
    replication: q.get("replication"),
    collection: q.get("collection"),
    ttl: q.get("ttl"),
    dataCenter: q.get("dataCenter"),
    rack: q.get("rack"),
    dataNode: q.get("dataNode"),
    writableVolumeCount: q.get("writableVolumeCount"),
    preallocate: q.get("preallocate"),
    memoryMapMaxSizeMb: q.get("memoryMapMaxSizeMb"),
    disk: q.get("disk"),
  };
}

/** Characters of a collection name: SeaweedFS puts no bound; file names on most disks stop at 255. */
const nameCharsMax = 256;
/** Collections become file name prefixes on volume servers: no separators or control characters. */
const BAD_NAME = /[/\\\u0000-\u001f]/;

/** Parsed replication/ttl texts: a handful of distinct values arrive, each parsed once. Bounded. */
const parsedCacheEntriesMax = 512;
const replicationCache = new Map<string, number>();
const ttlCache = new Map<string, number>();

function cached(cache: Map<string, number>, text: string, parse: (t: string) => number): number {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const v = parse(text);
  if (cache.size < parsedCacheEntriesMax) cache.set(text, v);
  return v;
}

export function parseReplicationByte(text: string): number {
  return cached(replicationCache, text, (t) => replicaPlacementToByte(parseReplicaPlacement(t)));
}

export function parseTtlUint32(text: string): number {
  return cached(ttlCache, text, (t) => ttlToUint32(parseTtl(t)));
}

/** A non-negative integer parameter; `fallback` when absent. */
export function parseUint(name: string, text: Raw, fallback: number, max: number): number {
  if (text === undefined || text === null || text === "") return fallback;
  if (!/^\d{1,15}$/.test(text))
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `invalid ${name} ${JSON.stringify(text)}: expected a non-negative integer`,
    );
  const n = Number(text);
  if (n > max) throw new WeedError(ErrorCode.BAD_PARAM, `invalid ${name} ${n}: over the limit of ${max}`);
  return n;
}

export function parseName(name: string, text: Raw): string {
  if (text === undefined || text === null) return "";
  if (text.length > nameCharsMax || BAD_NAME.test(text)) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `invalid ${name} ${JSON.stringify(text.slice(0, 64))}: ` +
        `at most ${nameCharsMax} characters, no '/', '\\' or control characters`,
    );
  }
  return text;
}

export function parseAssignParams(raw: RawAssignParams, defaultReplication: string): AssignRequest {
  // count=0 means 1, as SeaweedFS treats it; text that is not a number is refused.
  const count = parseUint("count", raw.count, 1, assignCountMax) || 1;
  const replication =
    raw.replication === undefined || raw.replication === null || raw.replication === ""
      ? defaultReplication
      : raw.replication;
  return {
    count,
    collection: checkCollectionName(parseName("collection", raw.collection)),
    replicaPlacement: parseReplicationByte(replication),
    ttl: raw.ttl === undefined || raw.ttl === null ? 0 : parseTtlUint32(raw.ttl),
    prefs: {
      dataCenter: parseName("dataCenter", raw.dataCenter),
      rack: parseName("rack", raw.rack),
      dataNode: parseName("dataNode", raw.dataNode),
    },
    writableVolumeCount: parseUint("writableVolumeCount", raw.writableVolumeCount, 0, growthCountMax),
    preallocate: parseUint("preallocate", raw.preallocate, 0, Number.MAX_SAFE_INTEGER),
    memoryMapMaxSizeMb: parseUint("memoryMapMaxSizeMb", raw.memoryMapMaxSizeMb, 0, 0xffff_ffff),
    diskType: parseName("disk", raw.disk),
  };
}
