#!/usr/bin/env node
// `npm run bench:blob`: the volume server's blob path next to its ceiling, in the same run
// (issue 15). The machine is shared and drifts, so only the ratios of runs taken side by side count.
//
//   GET 1 KB: wrk asks for random fids of BLOB_FILES needles written first; the ceiling is a bare
//             node:http server answering a fixed 1 KB body from memory with the same headers.
//   PUT 1 KB: wrk sends a raw 1 KB body to a fresh fid per request; the ceiling is a bare
//             node:http server reading the body and appending it with writeSync (no fsync), then
//             answering a small JSON (as ../shared/anchors/perf/node-ceiling.sh's "post").
//
// One `weed-ts master` and one `weed-ts volume` (own processes, so the volume server's CPU and
// profile are its own) in a temp dir on 127.0.0.1; the bare server is this script run with
// --bare. Each round runs bare and weed-ts back to back, the order shifted every round so that
// each server takes each place equally often (with a baseline: shift 0, 1, 2, then reversed); the table
// has each run's req/s, p50, p99, server CPU per request, the load average, and per round the
// weed-ts/bare ratio, then the median ratio against the goals (GET >= 0.85, PUT >= 0.75).
// "cpu us/req" is the server process's user+system CPU (/proc/<pid>/stat) over the requests
// answered: on a machine shared with other work it drifts less than req/s, and its bare/weed-ts
// ratio is printed too.
//
// Env: BLOB_ROUNDS=3 BLOB_DURATION_S=5 BLOB_THREADS=2 BLOB_GET_CONNS=64 BLOB_PUT_CONNS=16
//      BLOB_FILES=10000 BLOB_CASES="get put" BLOB_SERVERS="bare weed" (add "bareread": a second GET
//        ceiling that reads each 1 KB from a 10 MB file with readSync, as node-ceiling.sh's "read";
//        "barebatch": a second ceiling that does the turn's work together at its end, as the volume
//        server does: PUT bodies ending in one turn of the event loop appended by one writev
//        (append-batch.ts), GET answers of one turn written after all of them were read (response-batch.ts))
//      BLOB_FSYNC=1 (the volume server runs with -fsync; the bare ceiling never fsyncs)
//      BLOB_PROF_DIR=<dir> (both servers under node --cpu-prof: weed.cpuprofile (base.cpuprofile), bare.cpuprofile;
//        wall-clock samples, so on a loaded machine they land on whatever ran when the CPU came back)
//      BLOB_PERF_DIR=<dir> (perf record -e cpu-clock -g of the server during each run, JavaScript
//        frames named by --perf-basic-prof: <server>-<case>-<round>.perf.data; `perf report -i`)
//      BLOB_WARM=0 (skip reading every fid once after the fill, before the runs)
//      BLOB_KEEP=1 (keep the temp dir: server logs, fids)
//      BLOB_NODE_ARGS="--max-semi-space-size=16" (node flags for the weed-ts volume server;
//        BLOB_BASE_NODE_ARGS for the baseline's): compare a flag's effect in one run
// The last line printed is `RESULT {json}` (resultOf): the medians, for scripts/bench-all.mjs.
//      BLOB_BASE_ROOT=<dir> (another built weed-ts checkout, e.g. `git archive <commit>` + npm run build:
//        its master and volume server run too, as "base", in the same rotation: before/after in one run)
// Needs wrk (apt-get install wrk) and a build (npm run build). Only processes it started are
// stopped, every wait is bounded, and the temp dir is removed.
//
//   node scripts/bench-blob.mjs --top <file.cpuprofile> [n]   prints a profile's top frames by
//   self and by total time (what the reports quote).
import { spawn, execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync, writevSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { cpuTimes } from "./proc-cpu.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WEED = join(ROOT, "bin", "weed-ts.js");
const GRPC_PORT_OFFSET = 10000;
// Bounds, in ms.
const START_WAIT_MS = 30_000; // servers up and the volume server registered with the master
const STOP_WAIT_MS = 15_000; // SIGTERM to exit, before SIGKILL (the servers drain for a few seconds)
const WRK_GRACE_MS = 30_000; // wrk runs its duration, plus this before it is killed
const POLL_MS = 200;
const HTTP_TIMEOUT_MS = 2_000;
const FILL_CONCURRENCY = 16; // uploads in flight while writing the GET set
const BODY_BYTES = 1024;
const COOKIE = "1234abcd";
const GOALS = { get: 0.85, put: 0.75 };
const READ_RECORDS = 10_000; // records in the "bareread" ceiling's file (10 MB: stays in the page cache)

const log = (msg) => process.stderr.write(`[bench-blob] ${msg}\n`);

function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive integer`);
  return n;
}

// ---- the bare ceiling -------------------------------------------------------------------------

/** A function that queues its argument; the items of one turn of the event loop go to `run` at its end. */
function turnBatch(run) {
  let queued = [];
  const flush = () => {
    const q = queued;
    queued = [];
    run(q);
  };
  return (item) => {
    if (queued.length === 0) setImmediate(flush);
    queued.push(item);
  };
}

/**
 * `--bare <append file> [<read file> | -] [batch]`: the ceiling server. Prints "listening on <port>".
 * `batch`: PUT bodies that end in one turn are appended by one writev at its end, then answered;
 * GET answers of one turn are written at its end.
 */
function runBare(appendFile, readFile, batch) {
  const body = Buffer.alloc(BODY_BYTES, 0x61);
  // The headers a volume server GET carries, so the comparison is about the work, not the bytes.
  const headers = {
    "Content-Type": "application/octet-stream",
    "Content-Length": String(BODY_BYTES),
    "Accept-Ranges": "bytes",
    ETag: '"00000000"',
  };
  const fd = openSync(appendFile, "a");
  // --read: each GET reads its 1 KB from a file of READ_RECORDS records with readSync, at the
  // record the fid's key names (node-ceiling.sh's "read": serving from the page cache, not memory).
  const readFd = readFile === undefined || readFile === "-" ? -1 : openSync(readFile, "r");
  let stored = 0;
  const answerLater = turnBatch((q) => {
    for (const res of q) {
      res.writeHead(200, headers);
      res.end(body);
    }
  });
  const appendLater = turnBatch((q) => {
    writevSync(
      fd,
      q.map((e) => e.body),
    );
    for (const e of q) e.answer();
  });
  const server = createHttpServer((req, res) => {
    if (req.method === "GET") {
      if (readFd < 0 && batch) {
        answerLater(res);
        return;
      }
      if (readFd < 0) {
        res.writeHead(200, headers);
        res.end(body);
        return;
      }
      const key = Number.parseInt(req.url.slice(req.url.indexOf(",") + 1, -8), 16) || 0;
      const buf = Buffer.allocUnsafe(BODY_BYTES);
      readSync(readFd, buf, 0, BODY_BYTES, (key % READ_RECORDS) * BODY_BYTES);
      res.writeHead(200, headers);
      res.end(buf);
      return;
    }
    const chunks = [];
    let len = 0;
    req.on("data", (c) => {
      chunks.push(c);
      len += c.length;
    });
    req.on("end", () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, len);
      const answer = () => {
        stored++;
        const out = JSON.stringify({ fid: `${process.pid}-${stored}`, size: len });
        res.writeHead(201, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(out) });
        res.end(out);
      };
      if (!batch) {
        writeSync(fd, body);
        answer();
        return;
      }
      appendLater({ body, answer });
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1", () => process.stdout.write(`listening on ${server.address().port}\n`));
  process.once("SIGTERM", () => {
    closeSync(fd);
    process.exit(0);
  });
}

// ---- profiles ---------------------------------------------------------------------------------

/** `--top <file> [n]`: the n hottest functions by self time and by total (inclusive) time. */
function printTop(file, n) {
  const prof = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const dt = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    dt.set(id, (dt.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const parent = new Map();
  for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const name = (node) => {
    const f = node.callFrame;
    const file = f.url === "" ? "" : ` ${f.url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
    return `${f.functionName || "(anonymous)"}${file}`;
  };
  const self = new Map();
  const total = new Map();
  let all = 0;
  for (const [id, us] of dt) {
    all += us;
    const leaf = name(byId.get(id));
    self.set(leaf, (self.get(leaf) ?? 0) + us);
    // Inclusive: each function once per sample, however deep it recurses.
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = name(byId.get(at));
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const show = (title, m) => {
    console.log(`${title} (of ${(all / 1e6).toFixed(2)} s sampled)`);
    const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
    for (const [k, us] of rows) console.log(`  ${((us / all) * 100).toFixed(1).padStart(5)}%  ${k}`);
  };
  show("self", self);
  show("total", total);
}

// ---- the cluster --------------------------------------------------------------------------------

async function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A loopback port p such that p and p + 10000 (its gRPC port) are free and not in `taken`. */
async function freePortPair(taken) {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 35000);
    const both = [p, p + GRPC_PORT_OFFSET];
    if (both.some((x) => taken.has(x))) continue;
    if ((await portFree(p)) && (await portFree(p + GRPC_PORT_OFFSET))) {
      for (const x of both) taken.add(x);
      return p;
    }
  }
  throw new Error("no free loopback port pair found");
}

async function fetchOk(url, init = {}) {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    const text = await res.text();
    return res.ok ? text : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor(what, url, children) {
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline) {
    for (const c of children) if (c.exitCode !== null) throw new Error(`a server exited while waiting for ${what}`);
    const text = await fetchOk(url);
    if (text !== undefined) return text;
    await sleep(POLL_MS);
  }
  throw new Error(`no ${what} within ${START_WAIT_MS} ms (${url})`);
}

function start(args, logFile, extraNodeArgs = []) {
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, [...extraNodeArgs, ...args], { stdio: ["ignore", out, out] });
  closeSync(out);
  return child;
}

async function stop(child) {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(STOP_WAIT_MS).then(() => false)]);
  if (!done) {
    log(`pid ${child.pid} did not stop in ${STOP_WAIT_MS} ms; killing it`);
    child.kill("SIGKILL");
    await exited;
  }
}

/** Writes `count` 1 KB needles spread over `vids`; resolves with their fids. */
async function fill(volume, vids, count) {
  const fids = [];
  for (let k = 1; k <= count; k++) fids.push(`${vids[k % vids.length]},${k.toString(16)}${COOKIE}`);
  const body = Buffer.alloc(BODY_BYTES, 0x62);
  let next = 0;
  const worker = async () => {
    while (next < fids.length) {
      const fid = fids[next++];
      const res = await fetch(`http://${volume}/${fid}`, { method: "PUT", body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`PUT /${fid}: ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, worker));
  return fids;
}

/**
 * Reads every fid once (BLOB_WARM=0 skips it): the GET runs then measure a server that has been
 * serving its set for a while (the volume server's needle cache holds what was read), not the
 * first reads after the fill, whatever the run's length.
 */
async function warm(volume, fids) {
  let next = 0;
  const worker = async () => {
    while (next < fids.length) {
      const fid = fids[next++];
      const res = await fetch(`http://${volume}/${fid}`, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET /${fid}: ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, worker));
}

// ---- wrk ----------------------------------------------------------------------------------------

const DONE_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.2f %.1f %.1f %d %d %d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, summary.requests))
end
`;

const GET_LUA = `
local fids = {}
for line in io.lines(os.getenv("FID_LIST")) do fids[#fids + 1] = "/" .. line end
local n = #fids
local tcount = 0
function setup(thread) tcount = tcount + 1; thread:set("tid", tcount) end
function init(args) math.randomseed(os.time() + (tid or 0) * 100003); math.random(); math.random() end
request = function() return wrk.format("GET", fids[math.random(n)]) end
${DONE_LUA}`;

// A fresh key per request: KEY_BASE (new each run) + the thread's 2^20 block + a counter.
const PUT_LUA = `
local vids = {}
for v in string.gmatch(os.getenv("VIDS"), "%d+") do vids[#vids + 1] = v end
local base = tonumber(os.getenv("KEY_BASE"))
local body = string.rep("c", ${BODY_BYTES})
local headers = { ["Content-Type"] = "application/octet-stream" }
local tcount = 0
function setup(thread) tcount = tcount + 1; thread:set("tid", tcount) end
function init(args) n = 0; first = base + (tid or 0) * 1048576 end
request = function()
  n = n + 1
  local path = string.format("/%s,%x${COOKIE}", vids[n % #vids + 1], first + n)
  return wrk.format("PUT", path, headers, body)
end
${DONE_LUA}`;

/** User+system CPU seconds of `pid` so far (NaN off Linux). */
function cpuSeconds(pid) {
  const { user, sys } = cpuTimes(pid);
  return user + sys;
}

/**
 * BLOB_PERF_DIR: `perf record -g` of the server for the run (CPU cycles, not wall time: on a loaded
 * machine --cpu-prof's samples land on whatever ran when the thread got the CPU back). JavaScript
 * frames are named through --perf-basic-prof's /tmp/perf-<pid>.map.
 */
function perfRecord(pid, durationS, name) {
  const dir = process.env.BLOB_PERF_DIR;
  if (!dir || name === undefined) return undefined;
  const out = join(dir, `${name}.perf.data`);
  return new Promise((resolve) => {
    const child = spawn(
      "perf",
      ["record", "-e", "cpu-clock", "-F", "997", "-g", "-p", String(pid), "-o", out, "--", "sleep", String(durationS)],
      {
        stdio: "ignore",
      },
    );
    child.once("error", (err) => {
      log(`perf record: ${err.message}`);
      resolve();
    });
    child.once("close", () => resolve());
  });
}

/** One wrk run; resolves with req/s, p50/p99 in ms, errors, non-2xx and server CPU us per request. */
async function runWrk(o) {
  const { target, lua, conns, threads, durationS, env, pid } = o;
  const args = [`-t${threads}`, `-c${conns}`, `-d${durationS}s`, "--timeout", "5s", "-s", lua, `http://${target}`];
  const load = loadavg()[0];
  const cpu0 = cpuSeconds(pid);
  const perf = perfRecord(pid, durationS, o.perfName);
  const text = await new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), durationS * 1000 + WRK_GRACE_MS);
    child.stdout.on("data", (c) => (out += c));
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${out}`));
      else resolve(out);
    });
  });
  const cpu1 = cpuSeconds(pid);
  if (perf !== undefined) await perf;
  const m = /^RESULT (\S+) (\S+) (\S+) (\d+) (\d+) (\d+)$/m.exec(text);
  if (!m) throw new Error(`wrk printed no result: ${text}`);
  const requests = Number(m[6]);
  return {
    rps: Number(m[1]),
    p50: Number(m[2]) / 1000,
    p99: Number(m[3]) / 1000,
    errors: Number(m[4]),
    non2xx: Number(m[5]),
    cpuUsPerReq: requests > 0 ? ((cpu1 - cpu0) * 1e6) / requests : Number.NaN,
    load,
  };
}

// ---- main ---------------------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function printTable(rows, cases) {
  console.log(`\nweed-ts volume server vs bare node:http, 1 KB bodies, wrk (load average of the run's start)`);
  const head = ["round", "case", "server", "req/s", "p50 ms", "p99 ms", "cpu us/req", "err", "non2xx", "load"];
  console.log(head.map((h, i) => (i < 3 ? h.padEnd(7) : h.padStart(10))).join(" "));
  for (const r of rows) {
    const cells = [String(r.round), r.case, r.server, r.rps.toFixed(0), r.p50.toFixed(3), r.p99.toFixed(3)];
    cells.push(r.cpuUsPerReq.toFixed(1), String(r.errors), String(r.non2xx), r.load.toFixed(2));
    console.log(cells.map((c, i) => (i < 3 ? c.padEnd(7) : c.padStart(10))).join(" "));
  }
  console.log("\nratio weed-ts / bare, per round (req/s; cpu per request bare / weed-ts)");
  for (const c of cases) for (const who of ["weed", "base"]) printRatios(rows, c, who, "bare");
  if (rows.some((r) => r.server === "base")) {
    console.log("weed-ts / base (BLOB_BASE_ROOT), per round: the change itself");
    for (const c of cases) printRatios(rows, c, "weed", "base");
  }
  if (rows.some((r) => r.server === "bareread")) {
    console.log("GET against the bareread ceiling (1 KB read from a file with readSync per request):");
    for (const who of ["weed", "base"]) printRatios(rows, "get", who, "bareread");
  }
  if (rows.some((r) => r.server === "barebatch")) {
    console.log(
      "against the barebatch ceiling (a turn's PUT bodies appended by one writev, its GET answers at its end):",
    );
    for (const c of ["get", "put"]) for (const who of ["weed", "base"]) printRatios(rows, c, who, "barebatch");
  }
}

function printRatios(rows, c, who, ceiling) {
  const ratios = [];
  const cpuRatios = [];
  for (const round of new Set(rows.map((r) => r.round))) {
    const w = rows.find((r) => r.round === round && r.case === c && r.server === who);
    const b = rows.find((r) => r.round === round && r.case === c && r.server === ceiling);
    if (w === undefined || b === undefined) continue;
    ratios.push(w.rps / b.rps);
    cpuRatios.push(b.cpuUsPerReq / w.cpuUsPerReq);
  }
  if (ratios.length === 0) return;
  const med = median(ratios);
  const verdict = med >= GOALS[c] ? "OK" : "BELOW GOAL";
  const goal = ceiling === "base" ? "before/after" : `goal >= ${GOALS[c]}: ${verdict}`;
  console.log(
    `${c.padEnd(4)}${who.padEnd(5)} req/s ${ratios.map((x) => x.toFixed(2)).join(" ")}  median ${med.toFixed(2)} ` +
      `(${goal});  cpu ${cpuRatios.map((x) => x.toFixed(2)).join(" ")}  median ${median(cpuRatios).toFixed(2)}`,
  );
}

/**
 * The line bench-all reads: per case, per server compared with a ceiling, the median over rounds
 * of the req/s ratio and of each server's req/s and CPU us per request; null where a case has no
 * pair of runs. {"get":{"weed":{"ceiling":"bare","ratio":0.81,"rps":..,"ceilingRps":..,
 * "cpuUsPerReq":..,"ceilingCpuUsPerReq":..,"cpuRatio":..,"rounds":5},"base":...},"put":{...}}
 */
function resultOf(rows, cases) {
  const out = {};
  for (const c of cases) {
    out[c] = {};
    for (const who of ["weed", "base"]) {
      const pairs = [];
      for (const w of rows.filter((r) => r.case === c && r.server === who)) {
        const b = rows.find((r) => r.round === w.round && r.case === c && r.server === "bare");
        if (b !== undefined) pairs.push({ w, b });
      }
      if (pairs.length === 0) continue;
      const med = (f) => Number(median(pairs.map(f)).toFixed(3));
      out[c][who] = {
        ceiling: "bare",
        ratio: med(({ w, b }) => w.rps / b.rps),
        rps: med(({ w }) => w.rps),
        ceilingRps: med(({ b }) => b.rps),
        cpuUsPerReq: med(({ w }) => w.cpuUsPerReq),
        ceilingCpuUsPerReq: med(({ b }) => b.cpuUsPerReq),
        cpuRatio: med(({ w, b }) => b.cpuUsPerReq / w.cpuUsPerReq),
        rounds: pairs.length,
      };
    }
  }
  return out;
}

/** A master and a volume server of the weed-ts at `weed` (bin/weed-ts.js), files under tmp/<name>. */
async function startCluster(tmp, weed, name, taken) {
  const mPort = await freePortPair(taken);
  const vPort = await freePortPair(taken);
  const dir = join(tmp, name);
  for (const d of ["v", "m"]) mkdirSync(join(dir, d), { recursive: true });
  const master = start(
    [weed, "master", `-port=${mPort}`, "-ip=127.0.0.1", `-mdir=${join(dir, "m")}`],
    join(dir, "m.log"),
  );
  const prof = process.env.BLOB_PROF_DIR;
  const profArgs = prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  if (process.env.BLOB_PERF_DIR) profArgs.push("--perf-basic-prof");
  const nodeArgs = process.env[name === "base" ? "BLOB_BASE_NODE_ARGS" : "BLOB_NODE_ARGS"];
  if (nodeArgs) profArgs.push(...nodeArgs.split(/\s+/).filter(Boolean));
  const vArgs = [weed, "volume", `-port=${vPort}`, "-ip=127.0.0.1", `-dir=${join(dir, "v")}`, "-max=8"];
  vArgs.push(`-master=127.0.0.1:${mPort}`, "-logLevel=warn");
  if (process.env.BLOB_FSYNC === "1") vArgs.push("-fsync");
  const volume = start(vArgs, join(dir, "v.log"), profArgs);
  const children = [master, volume];
  await waitFor("master", `http://127.0.0.1:${mPort}/cluster/status`, children);
  await waitFor("volume server", `http://127.0.0.1:${vPort}/status`, children);
  await waitFor("volume growth", `http://127.0.0.1:${mPort}/vol/grow?count=4`, children);
  const status = JSON.parse(await waitFor("volumes", `http://127.0.0.1:${vPort}/status`, children));
  const vids = status.Volumes.map((v) => v.Id).filter((id) => Number.isInteger(id));
  if (vids.length === 0) throw new Error("the volume server holds no volume after /vol/grow");
  return { master, volume, vids, addr: `127.0.0.1:${vPort}` };
}

/** The bare ceiling; `name` "bareread" reads each GET's body from a file, "barebatch" batches appends (runBare). */
async function startBare(tmp, name) {
  const prof = process.env.BLOB_PROF_DIR;
  const profArgs = prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  if (process.env.BLOB_PERF_DIR) profArgs.push("--perf-basic-prof");
  const args = [...profArgs, fileURLToPath(import.meta.url), "--bare", join(tmp, `${name}.dat`)];
  if (name === "bareread") {
    const file = join(tmp, "bareread-records.dat");
    writeFileSync(file, Buffer.alloc(READ_RECORDS * BODY_BYTES, 0x61));
    args.push(file);
  }
  if (name === "barebatch") args.push("-", "batch");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  const deadline = Date.now() + START_WAIT_MS;
  while (!/listening on (\d+)/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("the bare server did not start");
    await sleep(50);
  }
  return { child, addr: `127.0.0.1:${/listening on (\d+)/.exec(out)[1]}` };
}

/**
 * The servers' order in `round` (from 1): every server takes every place equally often (a cyclic
 * shift per round, reversed every other cycle). A server always run second was measured next to
 * the same neighbours every round, and before/after comparisons leaned with the place, not the code.
 */
function rotation(servers, round) {
  const shift = (round - 1) % servers.length;
  const shifted = [...servers.slice(shift), ...servers.slice(0, shift)];
  return Math.floor((round - 1) / servers.length) % 2 === 0 ? shifted : shifted.reverse();
}

async function main() {
  const rounds = envInt("BLOB_ROUNDS", 3);
  const durationS = envInt("BLOB_DURATION_S", 5);
  const threads = envInt("BLOB_THREADS", 2);
  const conns = { get: envInt("BLOB_GET_CONNS", 64), put: envInt("BLOB_PUT_CONNS", 16) };
  const cases = (process.env.BLOB_CASES || "get put").split(/\s+/).filter(Boolean);
  const servers = (process.env.BLOB_SERVERS || "bare weed").split(/\s+/).filter(Boolean);
  const baseRoot = process.env.BLOB_BASE_ROOT;
  if (baseRoot && !servers.includes("base")) servers.push("base");
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (err) {
    if (err.code === "ENOENT") throw new Error("wrk is not installed (apt-get install wrk)");
  }
  const tmp = await mkdtemp(join(tmpdir(), "weed-bench-blob-"));
  const clusters = {};
  const bares = {};
  try {
    const taken = new Set();
    clusters.weed = await startCluster(tmp, WEED, "weed", taken);
    if (baseRoot) clusters.base = await startCluster(tmp, join(baseRoot, "bin", "weed-ts.js"), "base", taken);
    for (const name of servers.filter((x) => x.startsWith("bare"))) bares[name] = await startBare(tmp, name);
    const cluster = clusters.weed;
    const files = envInt("BLOB_FILES", 10_000);
    log(`volumes ${cluster.vids.join(",")}; writing ${files} needles of ${BODY_BYTES} bytes`);
    const fidList = join(tmp, "fids.txt");
    const fids = await fill(cluster.addr, cluster.vids, files);
    // The same fids on the baseline: both grew volumes 1-4 on an empty master.
    if (clusters.base !== undefined) {
      if (clusters.base.vids.join() !== cluster.vids.join()) throw new Error("the baseline grew other volume ids");
      await fill(clusters.base.addr, cluster.vids, files);
    }
    if (process.env.BLOB_WARM !== "0") {
      for (const c of Object.values(clusters)) await warm(c.addr, fids);
    }
    writeFileSync(fidList, fids.join("\n") + "\n");
    writeFileSync(join(tmp, "get.lua"), GET_LUA);
    writeFileSync(join(tmp, "put.lua"), PUT_LUA);
    const rows = [];
    let runNo = 0;
    for (let round = 1; round <= rounds; round++) {
      const order = rotation(servers, round);
      for (const c of cases) {
        for (const server of order) {
          if (server === "bareread" && c !== "get") continue; // a read ceiling: nothing to compare a PUT to
          runNo++;
          const s =
            bares[server] !== undefined
              ? { addr: bares[server].addr, pid: bares[server].child.pid }
              : { addr: clusters[server].addr, pid: clusters[server].volume.pid };
          // Keys well above the GET set's, fresh per run: (run + 1) * 2^24 plus a block of 2^20 per wrk thread.
          const env = { FID_LIST: fidList, VIDS: cluster.vids.join(","), KEY_BASE: String((runNo + 1) * 16_777_216) };
          log(`round ${round}: ${c} ${server} -c${conns[c]} ${durationS}s (load ${loadavg()[0].toFixed(2)})`);
          const r = await runWrk({
            target: s.addr,
            lua: join(tmp, `${c}.lua`),
            conns: conns[c],
            threads,
            durationS,
            env,
            pid: s.pid,
            perfName: `${server}-${c}-${round}`,
          });
          rows.push({ round, case: c, server, ...r });
        }
      }
    }
    printTable(rows, cases);
    console.log(`RESULT ${JSON.stringify(resultOf(rows, cases))}`);
    if (rows.some((r) => r.non2xx > 0 || r.errors > 0)) log("warning: some runs had errors or non-2xx answers");
  } finally {
    await Promise.all(Object.values(bares).map((b) => stop(b.child)));
    await Promise.all(Object.values(clusters).flatMap((c) => [stop(c.volume), stop(c.master)]));
    if (process.env.BLOB_KEEP !== "1") await rm(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}

const argv = process.argv.slice(2);
if (argv[0] === "--bare") runBare(argv[1], argv[2], argv[3] === "batch");
else if (argv[0] === "--top") printTop(argv[1], Number(argv[2] ?? 25));
else
  main().catch((err) => {
    log(`error: ${err.stack ?? err}`);
    process.exitCode = 1;
  });
