// Issue 9: no request kills a server. fast-check draws requests for every route of a real
// `weed-ts server` (master and volume server in one process) and of a second master joined to it
// (which forwards to the leader): methods, paths in every fid form and many broken ones, query
// strings, headers, bodies (raw, form, multipart whole / cut / with the wrong boundary / oversized,
// chunked, lying about their length, half-closed). Each is sent as raw bytes (raw-http.ts) and
// judged: the processes live, their RSS stays bounded, they log nothing at error level, the answer
// comes within a bound and has one of the shapes listed above `shapeOf`, and a keep-alive
// connection carries the next request.
//
// `npm test` runs FUZZ_RUNS batches (default below) from the fixed seed; explore with
//   FC_SEED=random FUZZ_RUNS=300 npx vitest run test/integration/fuzz.test.ts
// (FUZZ_SHOW below prints chosen requests) and pin what it finds in PINNED, named after what it
// broke. What it found and was left to other files' owners is kept away from the generator by
// the functions that name each bug: volumeUpgrade, followerStream, gzipClaimed, awayFromKnownBugs.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { unreadBodyDrainBytesMax, unreadBodyDrainMsMax } from "../../src/common/http-util.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";
import { firstWriteBytes, sendRaw, type RawOutcome, type RawResponse } from "./raw-http.js";

/** Batches of requests per run of `npm test` (one batch: 1 to batchRequestsMax sent at once). */
const fuzzRunsDefault = 60;
const fuzzRuns = Number(process.env.FUZZ_RUNS ?? fuzzRunsDefault);
const batchRequestsMax = 8;
/** A batch takes ~50 ms (3 s for the default runs); a failure's shrinking sends many more. */
const fuzzTestTimeoutMs = 60_000 + fuzzRuns * 1_000;
/**
 * FUZZ_SHOW=<text>: print every request whose "<server> <status> <shape>" contains it, or with
 * FUZZ_SHOW=slow every one answered after more than a second (exploring).
 */
const showShape = process.env.FUZZ_SHOW;
/**
 * No answer within this is a hang. The slowest legitimate answers wait for a volume to be grown
 * (assignGrowthWaitMs, 5 s) or a leader (leaderWaitMs, 3 s); on a shared two-core machine twice
 * the longest of them.
 */
const answerMsMax = 10_000;
/**
 * VmRSS bound of each process. Both start near 110 MiB (Node, pino, grpc-js, LevelDB, the needle
 * maps) and peaked at 115-152 MiB over runs of ~1300 requests: a request holds at most one upload
 * of -volume.fileSizeLimitMB (1 MiB here) plus the 64 KiB multipart overhead, at most
 * batchRequestsMax at once. 300 MiB is twice the highest peak seen, room for V8 to grow its heap
 * lazily, and still low enough that keeping 1 MiB per request (a leaked body or upload buffer)
 * crosses it within the ~250 requests of `npm test`.
 */
const rssBytesMax = 300 * 1024 * 1024;
/** -volume.fileSizeLimitMB of the server under test: oversized uploads stay cheap to send. */
const fileSizeLimitMB = 1;
const fileSizeLimitBytes = fileSizeLimitMB * 1024 * 1024;
/** What a server discards of a refused body before it closes the connection. */
const drainBytesMax = unreadBodyDrainBytesMax;

// ---------------------------------------------------------------------------------------------
// The server under test and what it holds.

let tmp: TempDir;
let followerTmp: TempDir;
let masterPort: number;
let volumePort: number;
let followerPort: number;
/** `weed-ts server`: a master (leading at first) and the volume server. */
let proc: WeedProcess;
/** A second master (`weed-ts master` joined to the first): a follower passes leader-only requests on. */
let follower: WeedProcess;
/** Fids stored before the fuzzing starts, so that reads and deletes reach real needles. */
const known: { fids: string[] } = { fids: [] };
const rssMaxSeen = { server: 0, follower: 0 };
const deaths: string[] = [];

function start(): WeedProcess {
  return new WeedProcess([
    "server",
    `-dir=${tmp.dir}`,
    "-ip=127.0.0.1",
    `-master.port=${masterPort}`,
    `-volume.port=${volumePort}`,
    "-volume.max=6",
    `-volume.fileSizeLimitMB=${fileSizeLimitMB}`,
    "-logLevel=warn",
  ]);
}

async function startAndWait(): Promise<void> {
  proc = start();
  logs.server = watchLogs(proc);
  await waitHttpOk(`http://127.0.0.1:${masterPort}/cluster/healthz`, proc);
  await waitHttpOk(`http://127.0.0.1:${volumePort}/healthz`, proc);
  await waitFor(
    async () =>
      JSON.stringify((await getJson(`http://127.0.0.1:${masterPort}/dir/status`)).json).includes(
        `127.0.0.1:${volumePort}`,
      ),
    { ...PROCESS_WAIT, what: "the volume server registered" },
  );
}

async function startFollower(): Promise<void> {
  follower = new WeedProcess([
    "master",
    `-port=${followerPort}`,
    `-mdir=${followerTmp.dir}`,
    "-ip=127.0.0.1",
    `-peers=127.0.0.1:${masterPort}`,
    "-logLevel=warn",
  ]);
  logs.follower = watchLogs(follower);
  // Healthy once it knows the leader: it has joined the cluster.
  await waitHttpOk(`http://127.0.0.1:${followerPort}/cluster/healthz`, follower);
}

/** Needles of each kind a read can meet: plain, stored gzipped, with Seaweed-* pairs and a name. */
async function storeFixtures(): Promise<void> {
  const form = new FormData();
  form.append("file", new Blob([Buffer.from("hello, fuzz ".repeat(100))], { type: "text/plain" }), "hello.txt");
  const s = await request(`http://127.0.0.1:${masterPort}/submit`, { method: "POST", body: form });
  const submitted = (await s.body.json()) as { fid: string };
  expect(s.statusCode).toBe(201);
  known.fids.push(submitted.fid);
  for (const kind of ["gzip", "pairs"] as const) {
    const a = await getJson(`http://127.0.0.1:${masterPort}/dir/assign`);
    expect(a.status).toBe(200);
    const headers: Record<string, string> =
      kind === "gzip"
        ? { "content-encoding": "gzip", "content-type": "text/plain" }
        : { "seaweed-color": "blue", "content-disposition": 'attachment; filename="é x.png"' };
    const body = kind === "gzip" ? gzipSync(Buffer.from("zipped ".repeat(500))) : Buffer.from("pairs and a name");
    const w = await getJson(`http://${a.json.url}/${a.json.fid}`, { method: "PUT", body, headers });
    expect(w.status, JSON.stringify(w.json)).toBe(201);
    known.fids.push(a.json.fid as string);
  }
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]) * 1024;
}

// ---------------------------------------------------------------------------------------------
// Logs: every line the server writes is pino JSON at warn or below. An error-level line, a stack,
// or anything that is not JSON (an uncaught exception, a Node warning) is a finding.

interface LogWatch {
  /** Lines that break the rule since the last call. */
  take(): string[];
}
const logs: Record<"server" | "follower", LogWatch> = { server: { take: () => [] }, follower: { take: () => [] } };

function watchLogs(p: WeedProcess): LogWatch {
  let pending = "";
  let bad: string[] = [];
  const onData = (b: Buffer): void => {
    pending += b.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) if (line.trim() !== "" && !isQuietLogLine(line)) bad.push(line.slice(0, 2000));
  };
  p.child.stdout!.on("data", onData);
  p.child.stderr!.on("data", onData);
  return {
    take() {
      const out = bad;
      bad = [];
      return out;
    },
  };
}

/** The levels a fuzzed request must never log at (-logFormat json names them). */
const errorLevels: ReadonlySet<unknown> = new Set(["error", "fatal"]);

function isQuietLogLine(line: string): boolean {
  let entry: { level?: unknown };
  try {
    entry = JSON.parse(line) as { level?: unknown };
  } catch {
    return false;
  }
  return typeof entry.level === "string" && !errorLevels.has(entry.level) && !line.includes('"stack"');
}

// ---------------------------------------------------------------------------------------------
// What is drawn. A case is data (small to print, replayable when pinned); `serialize` turns it
// into bytes. Fids named by index ({ known: i }) are resolved against `known` when sent.

/** Whom a request goes to: the server's master (leading at first), its volume server, or the other master. */
type Server = "master" | "volume" | "follower";

/** A known fid's volume id, the volume id of the fid the key names ("same"), or text. */
type VidSpec = { known: number } | { same: true } | string;
type KeyCookieSpec = { known: number; cookie: "ok" | "wrong" } | string;
type PathSpec =
  | { kind: "route"; path: string }
  | { kind: "fid"; vid: VidSpec; kc: KeyCookieSpec; form: "comma" | "slash" | "name"; ext: string; name: string }
  | { kind: "raw"; path: string };

type BodySpec =
  | { kind: "none" }
  | { kind: "raw"; bytes: number }
  | { kind: "text"; text: string }
  | {
      kind: "multipart";
      /** The boundary the body uses; `declared` is what Content-Type says ("" leaves it out). */
      boundary: string;
      declared: string;
      fileBytes: number;
      fileName: string;
      fields: Array<[string, string]>;
      cut: "none" | "before-close" | "mid-file" | "mid-headers" | "no-file";
    };

/**
 * length: Content-Length true. chunked: Transfer-Encoding chunked, in pieces. chunked-bad: a chunk
 * size that is not hex. short: Content-Length says more than is sent, then the client half-closes.
 * long: Content-Length says less (the rest is garbage after the request). both: Content-Length and
 * chunked together. huge: Content-Length of 300 MB, a little sent, then half-closed.
 */
type Framing = "length" | "chunked" | "chunked-bad" | "short" | "long" | "both" | "huge";

interface FuzzCase {
  server: Server;
  method: string;
  path: PathSpec;
  /** The query string as sent, without "?"; "" for none. */
  query: string;
  headers: Array<[string, string]>;
  body: BodySpec;
  framing: Framing;
  /**
   * Keep the connection and send GET /healthz after the answer ("after") or right behind the
   * request ("pipelined"): it must be answered too, unless the first answer said Connection: close.
   */
  probe: "none" | "after" | "pipelined";
}

const MASTER_ROUTES = [
  "/dir/assign",
  "/dir/lookup",
  "/submit",
  "/dir/status",
  "/vol/grow",
  "/vol/status",
  "/cluster/status",
  "/cluster/healthz",
  "/cluster/raft",
  "/cluster/raft/add",
  "/cluster/raft/remove",
  "/cluster/raft/transfer",
  "/healthz",
  "/readyz",
  "/metrics",
  "/",
  "/favicon.ico",
];
const VOLUME_ROUTES = ["/status", "/healthz", "/readyz", "/metrics", "/", "/favicon.ico"];

const WEIRD_PATHS = [
  "//",
  "/..",
  "/../../etc/passwd",
  "/%2e%2e/%2e%2e",
  "*",
  "/%",
  "/%ZZ",
  "/1,zz",
  "/1,",
  "/,",
  "/,01637037d6",
  "/1,01637037d6%00",
  "/1/zz/%ZZ",
  "/1,01637037d6/",
  "/1,01637037d6?",
  "/dir/assign/",
  "/DIR/ASSIGN",
  "/status/",
  "/é",
  "/😀,😀",
  "/%F0%9F%98%80",
  "/\u0000",
  "/a b",
  "/" + "a".repeat(9000),
  "/1/" + "0".repeat(5000),
  "http://127.0.0.1/1,01637037d6",
  "/1,01637037d6#frag",
];

const TEXTS = [
  "",
  "0",
  "-1",
  "1",
  "2",
  "100",
  "10001",
  "4294967296",
  "99999999999999999999",
  "1e3",
  "NaN",
  "0x10",
  " 1",
  "%ZZ",
  "%",
  "%00",
  "..",
  "../..",
  "é",
  "😀",
  "a b",
  "a/b",
  "\\",
  "000",
  "001",
  "010",
  "200",
  "3d",
  "1y",
  "1m",
  "hdd",
  "true",
  "127.0.0.1:1",
  "localhost:0",
  ":",
  "x".repeat(300),
];

const textArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TEXTS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }) },
);

const QUERY_KEYS = [
  "count",
  "collection",
  "replication",
  "ttl",
  "dataCenter",
  "rack",
  "dataNode",
  "writableVolumeCount",
  "preallocate",
  "memoryMapMaxSizeMb",
  "disk",
  "volumeId",
  "fileId",
  "pretty",
  "fsync",
  "ts",
  "dl",
  "id",
  "clusterId",
];

/** Percent-encoded as a client would, or sent as the raw characters (UTF-8, spaces, "%" alone). */
function queryPart(text: string, raw: boolean): string {
  return raw ? text : encodeURIComponent(text);
}

/** One query in 16 sent raw: most requests should get past the HTTP parser to a handler. */
const rawArb = fc.nat(15).map((n) => n === 0);

const pairsArb = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), textArb), textArb, fc.nat(9)), {
  minLength: 1,
  maxLength: 5,
});

const queryArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.constant("") },
  {
    weight: 4,
    arbitrary: fc
      .tuple(pairsArb, rawArb)
      .map(([pairs, raw]) =>
        pairs
          .map(([k, v, shape]) =>
            shape === 0 ? queryPart(k, raw) : `${queryPart(k, raw)}=${queryPart(v, raw || shape === 1)}`,
          )
          .join("&"),
      ),
  },
  { weight: 1, arbitrary: fc.constantFrom("&&&", "=", "==", "%ZZ=%ZZ", "count=1&count=2", "?", "a=%E0%A4") },
);

const vidArb: fc.Arbitrary<VidSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ same: true as const }) },
  { weight: 1, arbitrary: fc.record({ known: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.constantFrom("0", "1", "7", "4294967295", "4294967296", "99999999999", "-1", "", "a") },
);
const keyCookieArb: fc.Arbitrary<KeyCookieSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ known: fc.nat(9), cookie: fc.constantFrom<"ok" | "wrong">("ok", "ok", "wrong") }),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom("zz", "01637037d6_2", "01637037d6_x", "ffffffffffffffff637037d6", "0", "..", "%30%31"),
      fc.stringMatching(/^[0-9a-f]{0,30}$/),
    ),
  },
);
const nameArb = fc.oneof(
  fc.constantFrom("a.jpg", "my%20photo.png", "%ZZ", "%", "..", "%2e%2e", "%00", "%2F", "a%E0%A4", "%ED%A0%80", "x.txt"),
  fc.string({ unit: "grapheme", maxLength: 8 }).map(encodeURIComponent),
);
const pathArb = (server: Server): fc.Arbitrary<PathSpec> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant("route" as const), path: fc.constantFrom(...routesOf(server)) }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("fid" as const),
        vid: vidArb,
        kc: keyCookieArb,
        form: fc.constantFrom("comma" as const, "slash" as const, "name" as const),
        ext: fc.constantFrom("", ".jpg", ".", ".tar.gz", ".%ZZ"),
        name: nameArb,
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("raw" as const), path: fc.constantFrom(...WEIRD_PATHS) }) },
  );

function routesOf(server: Server): string[] {
  return server === "volume" ? VOLUME_ROUTES : MASTER_ROUTES;
}

const methodArb = fc.oneof(
  { weight: 24, arbitrary: fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE") },
  { weight: 2, arbitrary: fc.constantFrom("OPTIONS", "PATCH", "TRACE", "PROPFIND", "SEARCH") },
  { weight: 1, arbitrary: fc.constantFrom("CONNECT", "get", "G@T", "FOO") },
);

const bigHeaderCharsArb = fc.constantFrom(100, 4_000, 15_000, 17_000, 70_000);
/** The headers that steer a read: ranges, validators, encodings. */
const readHeaderArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constant("Range"),
    fc.constantFrom("bytes=0-0", "bytes=-1", "bytes=5-", "bytes=0-1,3-4", "bytes=1-0", "bytes=abc", "items=0-1", ""),
  ),
  fc.tuple(fc.constant("Range"), fc.constantFrom("bytes=99999999999999999999-", "bytes=" + "0-1,".repeat(2000))),
  fc.tuple(fc.constantFrom("If-None-Match", "If-Range"), fc.constantFrom("*", '"x"', 'W/"x"', "", ",,,", "W/")),
  fc.tuple(
    fc.constantFrom("If-Modified-Since", "If-Range"),
    fc.constantFrom("Thu, 01 Jan 1970 00:00:00 GMT", "Sat, 01 Jan 2050 00:00:00 GMT", "garbage", "-1"),
  ),
  fc.tuple(fc.constant("Accept-Encoding"), fc.constantFrom("gzip", "identity", "*", "gzip;q=0", "br")),
);

/** Headers Node's parser refuses or that make the head too large: a few, most requests get past. */
const breakingHeaderArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constant("X-Big"),
    bigHeaderCharsArb.map((n) => "a".repeat(n)),
  ),
  fc.tuple(fc.constant("X-Control"), fc.constantFrom("a\u0001b", "a\u007fb", "é")),
  fc.tuple(fc.constant("Content-Length"), fc.constantFrom("abc", "-1", "1")),
  fc.tuple(fc.constant("Transfer-Encoding"), fc.constantFrom("gzip", "chunked, chunked", "identity")),
);

const otherHeaderArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constant("Content-Encoding"), fc.constantFrom("gzip", "GZIP", "br", "")),
  fc.tuple(fc.constant("Content-MD5"), fc.constantFrom("", "xyz", "1B2M2Y8AsgTpgAmY7PhCfg==")),
  fc.tuple(
    fc.constant("Content-Disposition"),
    fc.constantFrom(
      'attachment; filename="a.txt"',
      "inline; filename*=UTF-8''%ZZ",
      'form-data; filename="../../x"',
      "garbage;;;=",
      `attachment; filename="${"a".repeat(1000)}"`,
    ),
  ),
  fc.tuple(
    fc.constant("Content-Type"),
    fc.constantFrom(
      "application/json",
      "text/plain",
      "multipart/form-data",
      "multipart/form-data; boundary=",
      `multipart/form-data; boundary=${"b".repeat(300)}`,
      "application/x-www-form-urlencoded",
      "form-data",
      "image/png; charset=%ZZ",
      ";;;",
    ),
  ),
  fc.tuple(
    fc.constantFrom("Seaweed-Color", "Seaweed-__proto__", "Seaweed-Content-Type", "Seaweed-" + "X".repeat(100)),
    fc.oneof(
      textArb,
      bigHeaderCharsArb.map((n) => "v".repeat(n)),
    ),
  ),
  fc.tuple(fc.constant("Origin"), fc.constantFrom("http://example.com", "null")),
  fc.tuple(fc.constant("Expect"), fc.constantFrom("100-continue", "200-ok")),
  fc.tuple(fc.constant("Connection"), fc.constantFrom("keep-alive", "close", "upgrade")),
  fc.tuple(fc.constant("Upgrade"), fc.constantFrom("websocket", "h2c")),
  fc.tuple(fc.constant("X-Weed-Forwarded-By"), fc.constantFrom("127.0.0.1:1", "", ",,,")),
  fc.tuple(fc.constant("Host"), fc.constantFrom("", "evil:99999")),
);

const headerArb: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 4, arbitrary: readHeaderArb },
  { weight: 8, arbitrary: otherHeaderArb },
  { weight: 1, arbitrary: breakingHeaderArb },
);

const boundaryArb = fc.constantFrom("fuzzboundary", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "b".repeat(190), "a b");
const bodyArb: fc.Arbitrary<BodySpec> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      bytes: fc.oneof(fc.nat(70_000), fc.constantFrom(fileSizeLimitBytes, fileSizeLimitBytes + 1)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("text" as const), text: fc.oneof(queryArb, textArb) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("multipart" as const),
      boundary: boundaryArb,
      declared: fc.oneof(fc.constant("same"), boundaryArb, fc.constant("")),
      fileBytes: fc.oneof(fc.nat(40_000), fc.constantFrom(0, fileSizeLimitBytes, fileSizeLimitBytes + 1)),
      fileName: fc.oneof(fc.constantFrom("a.txt", "", "../../etc/passwd", "é x.png", "%ZZ"), textArb),
      fields: fc.array(fc.tuple(fc.constantFrom(...QUERY_KEYS), textArb), { maxLength: 4 }),
      cut: fc.constantFrom("none", "none", "none", "before-close", "mid-file", "mid-headers", "no-file"),
    }),
  },
);

const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 12, arbitrary: fc.constant("length" as const) },
  { weight: 3, arbitrary: fc.constant("chunked" as const) },
  { weight: 1, arbitrary: fc.constantFrom("chunked-bad" as const, "short" as const, "long" as const) },
  { weight: 1, arbitrary: fc.constantFrom("both" as const, "huge" as const) },
);

/** A few headers, or many (Seaweed-* pairs by the hundred, or the same header repeated). */
const headersArb: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  { weight: 19, arbitrary: fc.array(headerArb, { maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 30, max: 300 }), fc.boolean())
      .map(([n, same]) =>
        Array.from({ length: n }, (_, i): [string, string] => [same ? "Seaweed-K" : `Seaweed-K${i}`, "v".repeat(20)]),
      ),
  },
);

const probeArb = fc.constantFrom<FuzzCase["probe"]>("none", "none", "after", "pipelined");

const serverArb = fc.constantFrom<Server>("master", "master", "volume", "volume", "follower");
const anyCaseArb: fc.Arbitrary<FuzzCase> = serverArb.chain((server) =>
  fc.record({
    server: fc.constant(server),
    method: methodArb,
    path: pathArb(server),
    query: queryArb,
    headers: headersArb,
    body: bodyArb,
    framing: framingArb,
    probe: probeArb,
  }),
);

/** A stored needle (its right cookie), in any path form: most random fids name nothing. */
const storedFidArb: fc.Arbitrary<PathSpec> = fc.record({
  kind: fc.constant("fid" as const),
  vid: fc.constant({ same: true as const }),
  kc: fc.record({ known: fc.nat(9), cookie: fc.constant("ok" as const) }),
  form: fc.constantFrom("comma" as const, "slash" as const, "name" as const),
  ext: fc.constantFrom("", ".jpg", ".txt"),
  name: nameArb,
});

/** Requests that reach deep: reads of stored needles, writes over them, uploads through /submit. */
const deepCaseArb: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.record({
    server: fc.constant("volume" as const),
    method: fc.constantFrom("GET", "HEAD"),
    path: storedFidArb,
    query: fc.oneof(fc.constant(""), fc.constantFrom("dl=true", "dl=0", "dl=%ZZ"), queryArb),
    headers: fc.array(readHeaderArb, { maxLength: 3 }),
    body: fc.constant({ kind: "none" as const }),
    framing: fc.constant("length" as const),
    probe: probeArb,
  }),
  fc.record({
    server: fc.constant("volume" as const),
    method: fc.constantFrom("PUT", "POST", "DELETE"),
    path: storedFidArb,
    query: fc.oneof(fc.constantFrom("", "fsync=true", "ttl=3m", "ttl=9x", "ts=1700000000", "ts=-1"), queryArb),
    headers: fc.array(headerArb, { maxLength: 2 }),
    body: bodyArb,
    framing: framingArb,
    probe: probeArb,
  }),
  fc.record({
    server: fc.constant("master" as const),
    method: fc.constant("POST"),
    path: fc.constant({ kind: "route" as const, path: "/submit" }),
    query: queryArb,
    headers: fc.array(headerArb, { maxLength: 2 }),
    body: bodyArb,
    framing: framingArb,
    probe: probeArb,
  }),
);

const caseArb: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 3, arbitrary: anyCaseArb },
  { weight: 1, arbitrary: deepCaseArb },
);

// ---------------------------------------------------------------------------------------------
// Bytes on the wire.

/** A wrong cookie for a known fid: the last 8 hex digits inverted. */
function flipCookie(keyCookie: string): string {
  const cookie = Number.parseInt(keyCookie.slice(-8), 16);
  return keyCookie.slice(0, -8) + ((~cookie >>> 0) as number).toString(16).padStart(8, "0");
}

function knownFid(i: number): { vid: string; keyCookie: string } {
  const fid = known.fids[i % known.fids.length]!;
  const comma = fid.indexOf(",");
  return { vid: fid.slice(0, comma), keyCookie: fid.slice(comma + 1) };
}

function vidText(vid: VidSpec, kc: KeyCookieSpec): string {
  if (typeof vid === "string") return vid;
  if ("known" in vid) return knownFid(vid.known).vid;
  return typeof kc === "string" ? "1" : knownFid(kc.known).vid;
}

function pathText(p: PathSpec): string {
  if (p.kind !== "fid") return p.path;
  const vid = vidText(p.vid, p.kc);
  let kc: string;
  if (typeof p.kc === "string") kc = p.kc;
  else {
    const k = knownFid(p.kc.known).keyCookie;
    kc = p.kc.cookie === "ok" ? k : flipCookie(k);
  }
  switch (p.form) {
    case "comma":
      return `/${vid},${kc}${p.ext}`;
    case "slash":
      return `/${vid}/${kc}${p.ext}`;
    case "name":
      return `/${vid}/${kc}/${p.name}`;
  }
}

/** Deterministic filler: bytes are no part of what is fuzzed, their amount is. */
function filler(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function multipartBody(b: Extract<BodySpec, { kind: "multipart" }>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of b.fields) {
    parts.push(Buffer.from(`--${b.boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (b.cut !== "no-file") {
    const head = `--${b.boundary}\r\nContent-Disposition: form-data; name="file"; filename="${b.fileName}"\r\n`;
    if (b.cut === "mid-headers") return Buffer.concat([...parts, Buffer.from(head.slice(0, head.length - 10))]);
    parts.push(Buffer.from(`${head}Content-Type: application/octet-stream\r\n\r\n`));
    const file = filler(b.fileBytes);
    if (b.cut === "mid-file") return Buffer.concat([...parts, file.subarray(0, file.length >> 1)]);
    parts.push(file, Buffer.from("\r\n"));
  }
  if (b.cut !== "before-close") parts.push(Buffer.from(`--${b.boundary}--\r\n`));
  return Buffer.concat(parts);
}

function bodyOf(b: BodySpec): { bytes: Buffer; contentType: string | undefined } {
  switch (b.kind) {
    case "none":
      return { bytes: Buffer.alloc(0), contentType: undefined };
    case "raw":
      return { bytes: filler(b.bytes), contentType: undefined };
    case "text":
      return { bytes: Buffer.from(b.text), contentType: "application/x-www-form-urlencoded" };
    case "multipart": {
      const declared = b.declared === "same" ? b.boundary : b.declared;
      const contentType = declared === "" ? "multipart/form-data" : `multipart/form-data; boundary=${declared}`;
      return { bytes: multipartBody(b), contentType };
    }
  }
}

function chunked(bytes: Buffer, bad: boolean): Buffer[] {
  const out: Buffer[] = [];
  const step = Math.max(1, Math.ceil(bytes.length / 3));
  for (let at = 0; at < bytes.length; at += step) {
    const piece = bytes.subarray(at, at + step);
    out.push(Buffer.from(`${bad ? "zz" : piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
  }
  out.push(Buffer.from("0\r\n\r\n"));
  return out;
}

interface Wire {
  pieces: Buffer[];
  halfClose: boolean;
  /** Bytes of body on the wire (for judging what the server may do with a large one). */
  bodyBytes: number;
  /** Why Node's HTTP parser refuses these bytes before any handler runs; "" when it takes them. */
  notHttp: string;
}

/** Methods Node's parser (llhttp) knows; any other token, or lower case, is refused. */
const PARSER_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "TRACE",
  "PROPFIND",
  "SEARCH",
]);
/** Node's default maxHeaderSize: a longer head is answered 431. */
const headBytesMax = 16 * 1024;

function notHttp(c: FuzzCase, target: string, headBytes: number): string {
  if (c.method !== "CONNECT" && !PARSER_METHODS.has(c.method)) return "unknown method";
  if (/[^\x21-\x7e]/.test(target)) return "space, control or non-ASCII byte in the request target";
  if (c.framing === "chunked-bad" || c.framing === "both") return `framing ${c.framing}`;
  // Garbage after the message: Node answers it 400 and destroys the socket, maybe before the answer.
  if (c.framing === "long") return "bytes after the message that are not a request";
  // RFC 9112 says to ignore them; Node's parser answers 400 and destroys the socket, maybe before
  // the answer to the request that said close.
  if (c.probe === "pipelined" && probes(c) && saysClose(c)) return "a request pipelined after Connection: close";
  if (headBytes > headBytesMax) return "head over maxHeaderSize";
  for (const [k, v] of c.headers) {
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) return `control character in ${k}`;
    if (k === "Content-Length" || k === "Transfer-Encoding") return `a second framing header ${k}: ${v}`;
  }
  return "";
}

function framingHeaders(c: FuzzCase, bytes: Buffer): { headers: string[]; body: Buffer[]; halfClose: boolean } {
  switch (c.framing) {
    case "length":
      return { headers: [`Content-Length: ${bytes.length}`], body: [bytes], halfClose: false };
    case "chunked":
    case "chunked-bad":
      return {
        headers: ["Transfer-Encoding: chunked"],
        body: chunked(bytes, c.framing === "chunked-bad"),
        halfClose: false,
      };
    case "short":
      return { headers: [`Content-Length: ${bytes.length + 10}`], body: [bytes], halfClose: true };
    case "long":
      return {
        headers: [`Content-Length: ${Math.max(0, bytes.length - 5)}`],
        body: [bytes, Buffer.from("garbage after the body\r\n\r\n")],
        halfClose: false,
      };
    case "both":
      return {
        headers: [`Content-Length: ${bytes.length}`, "Transfer-Encoding: chunked"],
        body: chunked(bytes, false),
        halfClose: false,
      };
    case "huge":
      return { headers: ["Content-Length: 314572800"], body: [bytes.subarray(0, 4096)], halfClose: true };
  }
}

/**
 * Found by this test, left to the owners of src/volume/handlers-write.ts and handlers-read.ts (see
 * the report of issue 9): an upload read raw with Content-Encoding: gzip whose bytes do not
 * inflate is stored flagged gzipped (201); every later GET without Accept-Encoding: gzip of it is
 * then a 500 "stored gzip data ... does not decompress" logged at error level, and one with it is
 * served as gzip though it is not. Until the write refuses it (400), a body that says gzip is gzip.
 */
function gzipClaimed(c: FuzzCase, contentType: string): boolean {
  const multipartUpload = c.method === "POST" && contentType.includes("form-data");
  return !multipartUpload && c.headers.some(([k, v]) => k === "Content-Encoding" && v.toLowerCase() === "gzip");
}

function serialize(c: FuzzCase): Wire {
  const body = bodyOf(c.body);
  const contentType = c.headers.find(([k]) => k === "Content-Type")?.[1] ?? body.contentType;
  const bytes = gzipClaimed(c, contentType ?? "") ? gzipSync(body.bytes) : body.bytes;
  const target = pathText(c.path) + (c.query === "" ? "" : `?${c.query}`);
  const framing = framingHeaders(c, bytes);
  const lines = [`${c.method} ${target} HTTP/1.1`, "Host: 127.0.0.1"];
  if (body.contentType !== undefined && !c.headers.some(([k]) => k === "Content-Type"))
    lines.push(`Content-Type: ${body.contentType}`);
  for (const [k, v] of c.headers) lines.push(`${k}: ${v}`);
  lines.push(...framing.headers);
  if (!probes(c)) lines.push("Connection: close");
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "utf8");
  return {
    pieces: [head, ...framing.body],
    halfClose: framing.halfClose,
    bodyBytes: framing.body.reduce((n, b) => n + b.length, 0),
    notHttp: notHttp(c, target, head.length),
  };
}

/** The request says Connection: close (every one without a probe does). */
function asksClose(c: FuzzCase): boolean {
  return !probes(c) || saysClose(c);
}

/** A drawn Connection: close header. */
function saysClose(c: FuzzCase): boolean {
  return c.headers.some(([k, v]) => k === "Connection" && v === "close");
}

/**
 * Found by this test, left to the owner of src/volume/http-server.ts (see the report of issue 9):
 * a request with Connection: upgrade and an Upgrade header is answered as plain HTTP with
 * Connection: keep-alive, but Node's parser stops at its end (upgrade mode) and hands what follows
 * in the same read to the 'upgrade' event, which nobody listens to: a request pipelined behind it
 * (or arriving with the tail of its body) is never answered, and the connection sits until the
 * 30 s keep-alive timeout closes it. The master answers such a request with Connection: close
 * (closeAfterUpgradeRequest in common/http-util.ts); the volume server's #onRequest needs the same
 * call. Until then no probe follows one.
 */
function volumeUpgrade(c: FuzzCase): boolean {
  return c.server === "volume" && c.headers.some(([k]) => k === "Upgrade");
}

/**
 * Found by this test, left to the owner of src/master/api/leader-forwarder.ts (see the report of
 * issue 9): a follower streams a body of unknown length (chunked) to the leader; when the leader
 * answers before it has all of it (a route that does not read it, an early refusal), the follower
 * passes the answer on but leaves the rest of the client's body unread, so the next request on that
 * keep-alive connection is never read: after ~6 s the connection is closed. Until forward() drains
 * or closes, no probe follows a chunked body sent to a follower.
 */
function followerStream(c: FuzzCase): boolean {
  return following.has(c.server) && c.framing === "chunked";
}

/**
 * The masters following now, asked before each batch: a transfer (POST /cluster/raft/transfer) or
 * an election (two shared cores, a leader late with its heartbeats) moves the lead, so the server's
 * master may follow too. While no leader is known both count as following.
 */
let following: ReadonlySet<Server> = new Set<Server>(["follower"]);

async function askWhoFollows(): Promise<void> {
  const leads = async (port: number): Promise<boolean> =>
    (await getJson(`http://127.0.0.1:${port}/cluster/status`).catch(() => ({ json: {} }))).json?.IsLeader === true;
  const [master, other] = await Promise.all([leads(masterPort), leads(followerPort)]);
  const f = new Set<Server>();
  if (!master) f.add("master");
  if (!other) f.add("follower");
  following = f;
}

/** A probe follows only a request whose end the server can tell: its next bytes are the probe's. */
function probes(c: FuzzCase): boolean {
  const known = !volumeUpgrade(c) && !followerStream(c);
  return c.probe !== "none" && (c.framing === "length" || c.framing === "chunked") && known;
}

const PROBE = Buffer.from("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

// ---------------------------------------------------------------------------------------------
// Judging an answer. The allowed shapes, and only these:
//   json        any status, Content-Type application/json, a body that parses; a 4xx/5xx one is
//               an object with a string "error" (DELETE's 404 {"size":0} is SeaweedFS's answer)
//   empty       no body: HEAD, 204, 304, OPTIONS, /healthz /readyz /cluster/healthz (200 or 503)
//   redirect    3xx with a Location (the master's /<fid> answers 308 to a volume server)
//   metrics     /metrics 200 text/plain (Prometheus)
//   html        / 200 text/html (the status pages)
//   blob        a volume server's 200/206 to GET /<fid>: the stored bytes, with the stored type
//   refused     Node's HTTP parser refusing bytes that are not HTTP/1.1 (400, or 431 for a head
//               over 16 KiB; Connection: close, no body) before any handler sees them: only for
//               requests `notHttp` predicts, or cut short by a half-close (Node's parser sees the
//               end of the stream mid-message); an unexpected refusal is a finding about the test
//   expectation Node's 417 (empty) to an Expect other than 100-continue: no handler sees it
//   cut         no answer, the connection closed: only when the client cut its own request short
//               (half-closed mid-body), sent more than the server drains of a refused body, sent
//               CONNECT (Node drops it: there is no tunnel), sent bytes that are not HTTP (Node
//               answers 400 and destroys the socket: a body still coming resets it), or the
//               lingering-close case below
// Never: a stack trace in a body, a 500 (an internal error from a request; /submit's documented
// 500 for a failed assign or upload aside), no answer in time.

const STACK = /\bat (?:\S+ \()?(?:file:|node:|\/)\S*:\d+:\d+/;
const PARSER_STATUSES = new Set([400, 431]);
const EMPTY_PATHS = new Set(["/healthz", "/readyz", "/cluster/healthz"]);

function header(r: RawResponse, name: string): string {
  return (r.headers.get(name) ?? []).join(", ");
}

/** Which allowed shape `r` has, or why it has none. */
function shapeOf(c: FuzzCase, wire: Wire, r: RawResponse): { shape: string } | { problem: string } {
  const type = header(r, "content-type");
  const text = r.body.toString("utf8");
  const path = pathText(c.path);
  if (STACK.test(text)) return { problem: "a stack trace in the body" };
  // /submit answers any failure of its assign or upload with 500, as SeaweedFS does (asSubmitFailure
  // in master/api/http-handlers.ts): a dataNode nobody has, a file over the volume server's limit.
  if (r.status === 500 && path !== "/submit") return { problem: "500: an internal error answered to a request" };
  if (c.method === "HEAD" || r.status === 204 || r.status === 304) {
    return r.body.length === 0 ? { shape: "empty" } : { problem: `a body with ${r.status} to ${c.method}` };
  }
  // Stored bytes are served with the type they were stored with (JSON that does not parse too).
  const read = c.server === "volume" && c.method === "GET" && !VOLUME_ROUTES.includes(path);
  if (read && (r.status === 200 || r.status === 206)) return { shape: "blob" };
  if (type.startsWith("application/json")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { problem: "Content-Type JSON but the body does not parse" };
    }
    if (r.status < 400) return { shape: "json" };
    const o = json as Record<string, unknown>;
    if (typeof o === "object" && o !== null && typeof o["error"] === "string") return { shape: "json" };
    if (c.method === "DELETE" && r.status === 404 && text === '{"size":0}') return { shape: "json" };
    return { problem: 'an error answer without {"error": "..."}' };
  }
  if (r.body.length === 0) {
    if (c.method === "OPTIONS") return { shape: "empty" };
    if (EMPTY_PATHS.has(path) && (r.status === 200 || r.status === 503)) return { shape: "empty" };
    if (r.status >= 300 && r.status < 400 && header(r, "location") !== "") return { shape: "redirect" };
    if (r.status === 417 && c.headers.some(([k, v]) => k === "Expect" && v !== "100-continue"))
      return { shape: "expectation" };
    const bare = header(r, "connection") === "close" && r.headers.size <= 1;
    if (PARSER_STATUSES.has(r.status) && bare && (wire.notHttp !== "" || wire.halfClose)) return { shape: "refused" };
  }
  if (r.status === 200 && path === "/metrics" && type.startsWith("text/plain")) return { shape: "metrics" };
  if (r.status === 200 && path === "/" && type.startsWith("text/html")) return { shape: "html" };
  return { problem: `no allowed shape (status ${r.status}, Content-Type ${JSON.stringify(type)})` };
}

/**
 * Found by this test, left to the owners of the HTTP listeners (see the report of issue 9): with
 * Connection: close, when the server answers before the whole body has arrived (a route that does
 * not read it, an early refusal), Node destroys the socket right after the answer; the body still
 * coming makes the kernel reset the connection, and a client still sending (Node's net.Socket:
 * EPIPE) loses the answer, or the end of it. A lingering close (Go's closeWriteAndWait) would keep
 * it. The client here sends the first firstWriteBytes at once, which the socket buffers take
 * whole, so only bodies past that are at risk.
 */
const lingerBytesMin = firstWriteBytes;

/**
 * The connection may end with the answer: the client asked, an Upgrade request is answered with
 * Connection: close (closeAfterUpgradeRequest), and a refused body of unknown length (chunked) or
 * over drainBytesMax is not drained (discardUnreadBody) but closed after.
 */
function serverMayClose(c: FuzzCase, wire: Wire): boolean {
  if (asksClose(c) || c.headers.some(([k]) => k === "Upgrade")) return true;
  return c.framing === "chunked" || wire.bodyBytes > drainBytesMax;
}

/** The client cut its request short, sent CONNECT (Node drops it), or sent bytes that are not HTTP. */
function cutByClient(c: FuzzCase, wire: Wire): boolean {
  return wire.halfClose || c.method === "CONNECT" || wire.notHttp !== "";
}

function mayBeCut(c: FuzzCase, wire: Wire): boolean {
  return cutByClient(c, wire) || (serverMayClose(c, wire) && wire.bodyBytes > lingerBytesMin);
}

interface Verdict {
  /** The allowed shape the answer has ("cut" for none), or "-" when it has none. */
  shape: string;
  problems: string[];
}

function judge(c: FuzzCase, wire: Wire, outcome: RawOutcome): Verdict {
  if (outcome.kind === "timeout") return { shape: "-", problems: [`no answer within ${answerMsMax} ms`] };
  if (outcome.kind === "closed") {
    if (mayBeCut(c, wire)) return { shape: "cut", problems: [] };
    return { shape: "-", problems: [`closed without an answer (${outcome.error ?? "EOF"}): ${outcome.partial}`] };
  }
  const problems: string[] = [];
  const s = shapeOf(c, wire, outcome.response);
  if ("problem" in s) problems.push(`${s.problem}: ${outcome.response.body.toString("utf8").slice(0, 300)}`);
  const probe = outcome.probe;
  if (probe !== undefined && probe !== "closed" && probe.status !== 200)
    problems.push(`the keep-alive probe after it got ${probe.status}`);
  // A connection the server keeps (its answer did not say Connection: close) carries the next request.
  if (probe === "closed" && header(outcome.response, "connection") !== "close" && !cutByClient(c, wire))
    problems.push("the connection was dropped after an answer that kept it alive");
  return { shape: "shape" in s ? s.shape : "-", problems };
}

// ---------------------------------------------------------------------------------------------
// Sending a batch and checking the process.

function portOf(server: Server): number {
  return server === "master" ? masterPort : server === "volume" ? volumePort : followerPort;
}

interface Sent {
  c: FuzzCase;
  problems: string[];
}

/** What the runs met, printed at the end: "<server> <status> <shape>" -> count. */
const tally = new Map<string, number>();
let slowestAnswerMs = 0;

/**
 * Found by this test, left to the owner of src/master/api/leader-forwarder.ts (see the report of
 * issue 9): when the client of a follower goes away before the leader's answer has been streamed
 * back to it (here: bytes after the request that Node's parser refuses, so it destroys the socket,
 * a body cut short by a half-close, or a request pipelined after Connection: close; as well a
 * client that times out), pipeline(answer.body, res) rejects with the raw
 * ERR_STREAM_PREMATURE_CLOSE, and the master logs it with its stack at error level ("HTTP handler
 * failed"). Until forward() answers that as CLIENT_GONE, a follower gets none of these.
 */
function awayFromKnownBugs(drawn: FuzzCase): FuzzCase {
  let c = drawn;
  if (following.has(c.server)) {
    const clientGoes = c.framing === "long" || c.framing === "short" || c.framing === "huge";
    if (clientGoes) c = { ...c, framing: "length" };
    if (c.probe === "pipelined" && saysClose(c)) c = { ...c, probe: "after" };
  }
  return addsMember(c) ? { ...c, query: "id=not-an-address" } : c;
}

/**
 * Not a bug, but no request for the fuzzer: POST /cluster/raft/add?id=<host:port nobody serves>
 * adds a learner and waits memberCatchUpTimeoutMs (20 s, over answerMsMax) for it to catch up
 * before it answers, as documented, and the learner stays a member. Its parsing is fuzzed: an id
 * that is not an address is still sent.
 */
function addsMember(c: FuzzCase): boolean {
  if (c.method !== "POST" || pathText(c.path) !== "/cluster/raft/add") return false;
  const params = new URLSearchParams(c.query);
  return params.getAll("id").some((id) => /^[^:]*:\d{1,5}$/.test(id.trim()));
}

async function sendCase(drawn: FuzzCase): Promise<Sent> {
  const c = awayFromKnownBugs(drawn);
  const wire = serialize(c);
  const outcome = await sendRaw(portOf(c.server), {
    pieces: wire.pieces,
    head: c.method === "HEAD",
    halfClose: wire.halfClose,
    probe: probes(c) ? PROBE : undefined,
    pipelined: c.probe === "pipelined",
    timeoutMs: answerMsMax,
  });
  const verdict = judge(c, wire, outcome);
  const key = `${c.server} ${outcome.kind === "answered" ? outcome.response.status : outcome.kind} ${verdict.shape}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  slowestAnswerMs = Math.max(slowestAnswerMs, outcome.ms);
  const shown = showShape !== undefined && (key.includes(showShape) || (showShape === "slow" && outcome.ms > 1000));
  if (shown) console.log(`${key} ${outcome.ms.toFixed(0)} ms <- ${describeCase(c)} ${wire.notHttp}`);
  return { c, problems: verdict.problems };
}

/** Lets the log lines a request caused arrive through the pipe before they are read. */
const logSettleMs = 30;

/** Sends `cases` at once; throws naming every problem, the request it came from, and the logs. */
async function runBatch(cases: readonly FuzzCase[], revive = true): Promise<void> {
  // A previous (failed) run killed one: it is started again, so that shrinking goes on.
  if (revive && proc.exited) await startAndWait();
  if (revive && follower.exited) await startFollower();
  await askWhoFollows();
  const results = await Promise.all(cases.map(sendCase));
  await new Promise((r) => setTimeout(r, logSettleMs));
  const problems = results.flatMap((r) => r.problems.map((p) => `${describeCase(r.c)} -> ${p}`));
  for (const [name, p] of [
    ["server", proc],
    ["follower", follower],
  ] as const) {
    const badLogs = logs[name].take();
    if (badLogs.length > 0)
      problems.push(`${name} logged at error level, a stack, or not JSON:\n${badLogs.join("\n")}`);
    problems.push(...checkAlive(name, p, cases));
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
}

/** The process lives and its RSS is within the bound. */
function checkAlive(name: "server" | "follower", p: WeedProcess, cases: readonly FuzzCase[]): string[] {
  if (p.exited) {
    deaths.push(`${name}: ${cases.map(describeCase).join(" | ")}`);
    const exit = p.child.exitCode ?? p.child.signalCode;
    return [`the ${name} died (exit ${exit}):\n${p.logs().slice(-3000)}`];
  }
  const rss = rssBytes(p.pid);
  rssMaxSeen[name] = Math.max(rssMaxSeen[name], rss);
  return rss > rssBytesMax ? [`${name} RSS ${rss} bytes is over the bound of ${rssBytesMax}`] : [];
}

function describeCase(c: FuzzCase): string {
  const target = pathText(c.path) + (c.query === "" ? "" : `?${c.query}`);
  const headers = c.headers
    .slice(0, 6)
    .map(([k, v]) => `${k}: ${v.length > 40 ? `${v.slice(0, 20)}...(${v.length})` : v}`);
  if (c.headers.length > 6) headers.push(`...${c.headers.length - 6} more`);
  return `${c.server} ${c.method} ${JSON.stringify(target.slice(0, 200))} [${headers.join("; ")}] body=${JSON.stringify(
    c.body.kind === "multipart" ? { ...c.body, fields: c.body.fields.length } : c.body,
  ).slice(0, 200)} framing=${c.framing}${probes(c) ? ` +probe ${c.probe}` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// Pinned: what the fuzzer found, each named after what it broke. They run before the random ones.

const get = (server: Server, path: PathSpec, query = ""): FuzzCase => ({
  server,
  method: "GET",
  path,
  query,
  headers: [],
  body: { kind: "none" },
  framing: "length",
  probe: "none",
});

const knownFidPath = (form: "comma" | "name", name = ""): PathSpec => ({
  kind: "fid",
  vid: { known: 0 },
  kc: { known: 0, cookie: "ok" },
  form,
  ext: "",
  name,
});
const upgradeHeaders: Array<[string, string]> = [
  ["Connection", "upgrade"],
  ["Upgrade", "websocket"],
];

/**
 * Each pinned example: requests sent one after the other, optionally the whole sequence `times`
 * times (a race), then after `settleMs` the processes are checked once more (a late crash).
 */
const PINNED: Array<[string, FuzzCase[], number?, number?]> = [
  [
    "issue 9 item 6: an invalid percent-encoding in the file name answered 500 URI malformed and logged a stack",
    [get("volume", knownFidPath("name", "%ZZ"))],
  ],
  [
    "a urlencoded body cut short (client gone) made the master log 'aborted' with its stack at error level",
    [{ ...get("master", knownFidPath("comma")), method: "DELETE", body: { kind: "text", text: "" }, framing: "short" }],
  ],
  [
    "a request pipelined behind an Upgrade request was never read by the master (the connection sat 5 s)",
    [{ ...get("master", { kind: "route", path: "/dir/status" }), headers: upgradeHeaders, probe: "pipelined" }],
  ],
  [
    // Not fixed: the volume server stalls the same way (volumeUpgrade above), so no probe is sent.
    "a request pipelined behind an Upgrade request is never read by the volume server (the connection sits 30 s)",
    [{ ...get("volume", knownFidPath("comma")), headers: upgradeHeaders, probe: "pipelined" }],
  ],
  [
    // Not fixed: no probe follows a chunked body sent to the follower (followerStream above).
    "a follower left a chunked body the leader did not read unread: the next request on the connection stalled 6 s",
    [
      {
        ...get("follower", { kind: "route", path: "/dir/status" }),
        body: { kind: "raw", bytes: fileSizeLimitBytes },
        framing: "chunked",
        probe: "after",
      },
    ],
  ],
  [
    // Fixed in discardUnreadBody; the follower died 5 s later, so the check waits that long.
    "a follower's forward the leader cut short left a request with a null socket: the drain timer killed the master",
    [
      {
        ...get("follower", { kind: "route", path: "/vol/grow" }),
        method: "PUT",
        query: "count=abc",
        body: { kind: "raw", bytes: 3 * drainBytesMax },
        framing: "chunked",
      },
    ],
    3,
    unreadBodyDrainMsMax + 500,
  ],
  [
    // Not fixed: a follower gets no garbage after a request (awayFromKnownBugs above).
    "a follower's client gone before the leader's answer streamed back: 'Premature close' logged with a stack",
    [{ ...get("follower", knownFidPath("comma")), framing: "long" }],
  ],
  [
    // Not fixed: the body is gzipped before it is sent (gzipClaimed above), so the read is 200.
    "a raw upload saying Content-Encoding: gzip that is not gzip is stored, and its reads are 500 and error logs",
    [
      {
        ...get("volume", knownFidPath("comma")),
        method: "PUT",
        headers: [["Content-Encoding", "gzip"]],
        body: { kind: "raw", bytes: 15 },
      },
      get("volume", knownFidPath("comma")),
    ],
  ],
];

beforeAll(async () => {
  tmp = await tempDir("weed-ts-fuzz-");
  followerTmp = await tempDir("weed-ts-fuzz-follower-");
  masterPort = await freePortPair();
  volumePort = await freePortPair();
  followerPort = await freePortPair();
  await startAndWait();
  await startFollower();
  await storeFixtures();
  logs.server.take();
  logs.follower.take();
});

afterAll(async () => {
  await follower?.stop();
  await proc?.stop();
  await tmp?.remove();
  await followerTmp?.remove();
  const seen = [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `  ${k}: ${n}`);
  console.log(
    `fuzz: ${[...tally.values()].reduce((a, b) => a + b, 0)} requests, slowest answer ` +
      `${slowestAnswerMs.toFixed(0)} ms, RSS at most ${mib(rssMaxSeen.server)} MiB (server), ` +
      `${mib(rssMaxSeen.follower)} MiB (follower), ` +
      `deaths ${deaths.length}\n${seen.join("\n")}`,
  );
});

describe("no request kills a server (issue 9)", () => {
  it.each(PINNED)("%s", async (_name, cases, times = 1, settleMs = 0) => {
    for (let i = 0; i < times; i++) for (const c of cases) await runBatch([c]);
    if (settleMs === 0) return;
    await new Promise((r) => setTimeout(r, settleMs));
    await runBatch([get("master", { kind: "route", path: "/healthz" })], false);
  });

  it(
    `${fuzzRuns} batches of random requests: the server lives, answers in shape and in time`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(caseArb, { minLength: 1, maxLength: batchRequestsMax }), (cases) => runBatch(cases)),
        { numRuns: fuzzRuns },
      );
    },
    fuzzTestTimeoutMs,
  );

  it("the 400 for an invalid percent-encoding names the path", async () => {
    const [vid, keyCookie] = known.fids[0]!.split(",");
    const path = `/${vid}/${keyCookie}/%ZZ`;
    const r = await getJson(`http://127.0.0.1:${volumePort}${path}`);
    expect(r.status).toBe(400);
    expect(r.json.error).toContain(path);
  });
});
