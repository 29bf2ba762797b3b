#!/usr/bin/env node
// `npm run bench:all` (issue 15): every benchmark of the issue next to its ceiling, measured in the
// same run, and one Markdown table of ratios against the issue's goals, so a change can be checked
// in one run (the machine drifts 2x between days: only ratios taken side by side count).
//
//   blob      scripts/bench-blob.mjs: volume server GET / PUT 1 KB vs bare node:http, rounds alternating
//   raft      scripts/bench-raft.mjs vs scripts/bench-etcd.mjs (3 etcd members, HTTP gateway, the same
//             closed loop): commits/s at concurrency 1, 16, 64; per concurrency BENCH_ALL_RAFT_ROUNDS
//             rounds of an etcd run, a weed-ts run and a run of the Node floor (scripts/bench-raft-floor.mjs:
//             the same loop and I/O with the same group commit, without Raft, gRPC or LevelDB) back to
//             back, weed-ts in the middle and the order swapped each time; the ratio is the median of the
//             rounds' ratios (one 5 s sample swung 1.4-2.4 at c64 within a run)
//   failover  scripts/bench-failover.mjs (kill -9 of the leader -> first acknowledged /submit) between
//             two halves of etcd's kills (bench-etcd --kills: kill -9 -> first acknowledged put)
//   scale     scripts/bench-scale.mjs: leader CPU, assign p99, new leader ready (absolute goals)
//
// Env: BENCH_ALL_ONLY="blob,raft,failover,scale" (the parts to run)  BENCH_ALL_SECONDS=1500 (bound of
//      the whole run)  BENCH_ALL_BLOB_ROUNDS=3  BENCH_ALL_BLOB_DURATION_S=5  BENCH_ALL_BLOB_FILES=5000
//      BENCH_ALL_RAFT_DURATION_S=5  BENCH_ALL_RAFT_ROUNDS=5  BENCH_ALL_KILLS=5 (weed-ts kills; etcd gets as many)
//      BENCH_ALL_SCALE_SERVERS=1000  BENCH_ALL_SCALE_MEASURE_S=20
// Without `etcd` on PATH (apt-get install etcd-server etcd-client) the etcd ceilings read "etcd not
// installed" and their ratio rows are skipped, not failed.
// Progress and the benchmarks' own output go to stderr; the table goes to stdout. Exit 0 when every
// benchmark ran (goals missed or not), 1 when one failed to run or the time bound cut it short.
// Each benchmark is a child process in its own process group: on its time bound it gets SIGINT (the
// scripts clean up on it), then SIGKILL to that group; nothing else is signalled.
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { loadavg } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { GOALS, RAFT_GOALS, blobFigures, formatTable, makeRow, median, parseBlobRows } from "./bench-table.mjs";
import { failureLine, parseFailoverKills, parseResultLine, parseScale } from "./bench-table.mjs";
import { percentile, selectParts } from "./bench-table.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const script = (name) => join(ROOT, "scripts", name);
const PARTS = ["blob", "raft", "failover", "scale"];
// Bounds (ms) of each child process: a few times what it takes at the defaults on this 2-core machine.
const BLOB_BOUND_MS = 420_000; // 3 rounds x 4 runs x 5 s, the fill of the GET set, 2 server starts
const RAFT_RUN_BOUND_MS = 120_000; // one concurrency: 3 nodes up, 10 s warm-up, the run, cleanup
const FAILOVER_BOUND_MS = 600_000; // 5 kills, each with a restart and rejoin, then the read-back
const ETCD_FAILOVER_BOUND_MS = 300_000; // 3 kills of etcd, each with a restart and 1 s settle
const SCALE_EXTRA_MS = 30_000; // bench-scale's own bound (BENCH_SCALE_SECONDS) plus its cleanup
const KILL_GRACE_MS = 20_000; // SIGINT -> SIGKILL: the scripts stop their servers and remove temp dirs
const MIN_PART_MS = 30_000; // a part that cannot get this much of the total bound is not started
const OUTPUT_MAX_CHARS = 4_000_000; // what is kept of a child's output for parsing
const VALUE_BYTES = 100; // bench-raft's default value size, given to both Raft benches

function envInt(name, fallback, min = 1) {
  const text = process.env[name];
  const n = text === undefined || text === "" ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`bench-all: ${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const settings = {
  totalS: envInt("BENCH_ALL_SECONDS", 1500, 60),
  blobRounds: envInt("BENCH_ALL_BLOB_ROUNDS", 3),
  blobDurationS: envInt("BENCH_ALL_BLOB_DURATION_S", 5),
  blobFiles: envInt("BENCH_ALL_BLOB_FILES", 5000),
  raftDurationS: envInt("BENCH_ALL_RAFT_DURATION_S", 5),
  raftRounds: envInt("BENCH_ALL_RAFT_ROUNDS", 5),
  kills: envInt("BENCH_ALL_KILLS", 5),
  scaleServers: envInt("BENCH_ALL_SCALE_SERVERS", 1000),
  scaleMeasureS: envInt("BENCH_ALL_SCALE_MEASURE_S", 20),
};
let parts;
try {
  parts = selectParts(PARTS, process.env.BENCH_ALL_ONLY);
} catch (err) {
  console.error(`bench-all: ${err.message}`);
  process.exit(2);
}

const t0 = performance.now();
const deadline = t0 + settings.totalS * 1000;
const say = (msg) => process.stderr.write(`[bench-all ${((performance.now() - t0) / 1000).toFixed(0)}s] ${msg}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A benchmark that did not run to the end (bound, crash, no parsable result); `why` is its own word. */
class BenchFailed extends Error {
  constructor(message, why) {
    super(message);
    this.why = why;
  }
}

/** A run that exited non-zero, with the line in which the script said why (else its last plain line). */
function exitFailure(label, code, out) {
  const plain = out.split("\n").filter((l) => l.trim() !== "" && !l.trimStart().startsWith("{"));
  const why = failureLine(out) ?? plain[plain.length - 1]?.trim().slice(0, 160);
  const err = new BenchFailed(`${label}: exit code ${code}`, why);
  err.out = out;
  return err;
}

// ---------------------------------------------------------------------------------------------
// Child processes

const running = new Set();

/**
 * SIGINT to the child (the scripts that handle it stop their servers and remove their temp dirs), then,
 * once it exited or after the grace, SIGKILL to its process group (it leads one: spawned detached), so
 * no server of a script that died on the signal is left behind.
 */
async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
  await Promise.race([child.done, sleep(KILL_GRACE_MS)]);
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // the group is empty: the script stopped everything it started
  }
}

/**
 * Runs `node <args>` under `label`, its lines echoed to stderr, bounded by `boundMs` and by the total
 * bound. Resolves with its exit code and output (stdout and stderr together).
 */
async function runNode(label, args, { env = {}, boundMs }) {
  const bound = Math.min(boundMs, deadline - performance.now());
  if (bound < MIN_PART_MS)
    throw new BenchFailed(`${label}: not started, the total bound (${settings.totalS} s) is near`);
  const started = performance.now();
  say(`${label}: start (load ${load()})`);
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.done = new Promise((r) => child.once("close", (code, signal) => r({ code, signal })));
  running.add(child);
  let out = "";
  const echo = (chunk) => {
    const text = chunk.toString();
    if (out.length < OUTPUT_MAX_CHARS) out += text;
    for (const line of text.split("\n")) if (line !== "") process.stderr.write(`  ${label} | ${line}\n`);
  };
  child.stdout.on("data", echo);
  child.stderr.on("data", echo);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    say(`${label}: ${(bound / 1000).toFixed(0)} s bound reached, stopping it`);
    void stopChild(child);
  }, bound);
  const { code, signal } = await child.done;
  clearTimeout(timer);
  running.delete(child);
  say(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s, exit ${code ?? signal}`);
  if (timedOut) throw new BenchFailed(`${label}: stopped at its bound (${(bound / 1000).toFixed(0)} s)`);
  return { code, out };
}

/** The RESULT json of a run that must have succeeded. */
async function runForResult(label, args, opts) {
  const { code, out } = await runNode(label, args, opts);
  const result = parseResultLine(out);
  if (code !== 0) throw exitFailure(label, code, out);
  if (result === null) throw new BenchFailed(`${label}: no RESULT line`);
  return result;
}

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    say(`${sig}: stopping ${running.size} benchmark(s)`);
    void Promise.all([...running].map(stopChild)).then(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// The parts: each adds its rows to `report`; a row it could not add reads FAILED with the reason.

const etcdInstalled = onPath("etcd");
const NO_ETCD = "etcd not installed";

async function blobPart(report) {
  const env = {
    BLOB_ROUNDS: String(settings.blobRounds),
    BLOB_DURATION_S: String(settings.blobDurationS),
    BLOB_FILES: String(settings.blobFiles),
  };
  const { code, out } = await runNode("blob", [script("bench-blob.mjs")], { env, boundMs: BLOB_BOUND_MS });
  if (code !== 0) throw exitFailure("blob", code, out);
  const result = parseResultLine(out);
  const rows = Array.isArray(result?.rows) ? result.rows : parseBlobRows(out);
  for (const c of ["get", "put"]) {
    const f = blobFigures(rows, c);
    if (f === null) throw new BenchFailed(`blob: no ${c} round with both servers in its output`);
    report.add(`blob-${c}`, { weed: f.weed, ceiling: f.ceiling, ratio: f.ratio });
    report.detail(`blob ${c}: rounds ${f.rounds}, median req/s; ratio = median of the rounds' weed-ts/bare ratios`);
  }
}

/** One closed-loop run of a Raft benchmark script at concurrency `c`: its throughput entry for `c`. */
async function throughputRun(label, file, c, extra) {
  const args = [script(file), "--concurrency", String(c), "--duration-s", String(settings.raftDurationS), ...extra];
  const r = await runForResult(`${label} c=${c}`, args, { boundMs: RAFT_RUN_BOUND_MS });
  const t = r.throughput?.find((x) => x.concurrency === c);
  if (t === undefined) throw new BenchFailed(`${label} c=${c}: no throughput in its RESULT`);
  return t;
}

const VALUE_ARGS = ["--value-bytes", String(VALUE_BYTES)];
const raftRun = (c) => throughputRun("raft", "bench-raft.mjs", c, ["--kills", "0", "--steady-s", "0", ...VALUE_ARGS]);
const etcdRun = (c) => throughputRun("etcd", "bench-etcd.mjs", c, ["--kills", "0", ...VALUE_ARGS]);
// bench-raft-floor.mjs sends bench-raft's default 100-byte values, VALUE_BYTES.
const floorRun = (c) => throughputRun("raft floor", "bench-raft-floor.mjs", c, []);

const RAFT_SIDES = { weed: raftRun, etcd: etcdRun, floor: floorRun };
const latency = (t) => `${t.perSec.toFixed(0)}/s p50 ${t.p50.toFixed(2)} ms p99 ${t.p99.toFixed(2)} ms`;

/** `raftRounds` rounds at `c`: weed-ts between its two ceilings, etcd and the Node floor. */
async function raftRounds(report, c, firstTurn) {
  const rounds = [];
  for (let r = 0; r < settings.raftRounds; r++) {
    // Back to back, the order swapped each time, so drift of the machine falls on every side.
    const order = (firstTurn + r) % 2 === 0 ? ["etcd", "weed", "floor"] : ["floor", "weed", "etcd"];
    const got = {};
    for (const who of order) if (who !== "etcd" || etcdInstalled) got[who] = await RAFT_SIDES[who](c);
    rounds.push(got);
    const etcdText = got.etcd === undefined ? NO_ETCD : `etcd ${latency(got.etcd)}`;
    const floorText = `floor ${latency(got.floor)}`;
    report.detail(
      `raft c=${c} round ${r + 1}: weed-ts ${latency(got.weed)}; ${etcdText}; ${floorText} (order ${order.join(", ")})`,
    );
  }
  return rounds;
}

async function raftPart(report) {
  let turn = 0;
  for (const c of RAFT_GOALS.keys()) {
    const rounds = await raftRounds(report, c, turn);
    turn += settings.raftRounds;
    const weed = median(rounds.map((x) => x.weed.perSec));
    const ceiling = etcdInstalled ? median(rounds.map((x) => x.etcd.perSec)) : undefined;
    const ratios = etcdInstalled ? rounds.map((x) => x.weed.perSec / x.etcd.perSec) : [];
    const ratio = etcdInstalled ? median(ratios) : undefined;
    report.add(`raft-${c}`, { weed, ceiling, ratio, ceilingNote: NO_ETCD });
    if (etcdInstalled) {
      const each = ratios.map((x) => x.toFixed(2)).join(" ");
      report.detail(`raft c=${c}: median commits/s; ratio = median of the rounds' weed-ts/etcd ratios (${each})`);
    }
    floorDetail(report, c, rounds);
  }
}

/** A detail, not a goal: weed-ts at `c` next to the floor of its I/O alone (bench-raft-floor.mjs). */
function floorDetail(report, c, rounds) {
  const ratios = rounds.map((x) => x.weed.perSec / x.floor.perSec);
  const middle = (side) => [...rounds].sort((a, b) => a[side].perSec - b[side].perSec)[(rounds.length - 1) >> 1][side];
  const us = (x) => (typeof x === "number" ? x.toFixed(0) : "?");
  const cpu = (t) => `cpu us/commit leader ${us(t.cpuLeaderUs)} followers ${us(t.cpuFollowersUs)}`;
  const floor = middle("floor");
  const each = ratios.map((x) => x.toFixed(2)).join(" ");
  report.detail(
    `raft c=${c} vs its Node floor (HTTP + raw TCP + fdatasync, group commit; no Raft/gRPC/LevelDB): ` +
      `${floor.perSec.toFixed(0)}/s p50 ${floor.p50.toFixed(2)} ms, ${cpu(floor)}; ` +
      `weed-ts ${median(ratios).toFixed(2)} of it (median of the rounds: ${each}), ${cpu(middle("weed"))}`,
  );
}

/** kill -9 of etcd's leader, `kills` times: the samples (ms). */
async function etcdKills(kills, label) {
  const args = [script("bench-etcd.mjs"), "--concurrency", "", "--kills", String(kills)];
  const r = await runForResult(label, args, { boundMs: ETCD_FAILOVER_BOUND_MS });
  if (!Array.isArray(r.failover?.samples)) throw new BenchFailed(`${label}: no failover samples in its RESULT`);
  return r.failover.samples;
}

async function failoverPart(report) {
  const before = Math.ceil(settings.kills / 2);
  const etcdSamples = etcdInstalled ? await etcdKills(before, "etcd failover 1/2") : [];
  const args = [script("bench-failover.mjs"), "--kills", String(settings.kills), "--assign-seconds", "0"];
  const w = await runForResult("failover", args, { boundMs: FAILOVER_BOUND_MS }).catch((err) => {
    const done = err instanceof BenchFailed ? parseFailoverKills(err.out ?? "") : [];
    if (done.length > 0) report.detail(`failover: the kills done before it failed took (ms) ${done.join(" ")}`);
    throw err;
  });
  if (etcdInstalled && settings.kills > before)
    etcdSamples.push(...(await etcdKills(settings.kills - before, "etcd failover 2/2")));
  const etcd = (p) => (etcdSamples.length === 0 ? undefined : percentile(etcdSamples, p));
  report.add("failover-median", { weed: w.median, ceiling: etcd(50), ceilingNote: NO_ETCD });
  report.add("failover-p90", { weed: w.p90, ceiling: etcd(90), ceilingNote: NO_ETCD });
  const list = (xs) => xs.map((x) => x.toFixed(0)).join(" ");
  report.detail(`failover samples (ms): weed-ts ${list(w.samples ?? [])}; etcd ${list(etcdSamples) || NO_ETCD}`);
  report.detail(
    `failover: weed-ts under ${w.concurrency} /submit workers; etcd idle, as ../shared/anchors/etcd-failover.sh`,
  );
}

async function scalePart(report) {
  const leftS = Math.floor((deadline - performance.now() - SCALE_EXTRA_MS) / 1000);
  const boundS = Math.max(10, Math.min(420, leftS));
  const env = {
    BENCH_SCALE_SERVERS: String(settings.scaleServers),
    BENCH_SCALE_MEASURE_SECONDS: String(settings.scaleMeasureS),
    BENCH_SCALE_SECONDS: String(boundS),
  };
  const boundMs = boundS * 1000 + SCALE_EXTRA_MS;
  const { code, out } = await runNode("scale", [script("bench-scale.mjs")], { env, boundMs });
  // It prints its steady-state figures before the kill: keep those even when a later step failed.
  const s = parseScale(out);
  const figures = { "scale-cpu": s.cpuPercent, "scale-assign": s.assignP99Ms, "scale-ready": s.readyMs };
  for (const [key, weed] of Object.entries(figures)) if (weed !== undefined) report.add(key, { weed });
  const block = out.split("bench-scale results\n")[1]?.split("\n\n")[0] ?? "";
  for (const line of block.split("\n").filter((l) => /^\s+\S/.test(l))) report.detail(`scale: ${line.trim()}`);
  if (code !== 0) throw exitFailure("scale", code, out);
}

// ---------------------------------------------------------------------------------------------
// The table

/** Every row of the table, in order, with the part that measures it. */
const ROWS = [
  ["blob", "blob-get", "volume GET 1 KB req/s (wrk -c64) vs bare node:http", GOALS.blobGet, ""],
  ["blob", "blob-put", "volume PUT 1 KB req/s (wrk -c16) vs bare node:http + writeSync", GOALS.blobPut, ""],
  ...[...RAFT_GOALS].map(([c, goal]) => [
    "raft",
    `raft-${c}`,
    `Raft commits/s c=${c} (3 nodes, fsync) vs etcd`,
    goal,
    "",
  ]),
  ["failover", "failover-median", "leader kill -9 -> first ack, median vs etcd", GOALS.failoverMedian, "ms"],
  ["failover", "failover-p90", "leader kill -9 -> first ack, p90 vs etcd", GOALS.failoverP90, "ms"],
  ["scale", "scale-cpu", "N volume servers: leader CPU (% of a core)", GOALS.scaleCpu, "%"],
  ["scale", "scale-assign", "N volume servers: assign p99 (c=1)", GOALS.scaleAssignP99, "ms"],
  ["scale", "scale-ready", "N volume servers: kill -9 leader -> first assign", GOALS.scaleReady, "ms"],
].map(([part, key, name, goal, unit]) => ({
  part,
  key,
  name: name.replace("N ", `${settings.scaleServers} `),
  goal,
  unit,
}));

class Report {
  constructor() {
    this.figures = new Map();
    this.details = [];
    this.failures = new Map(); // part -> reason
  }

  add(key, figures) {
    this.figures.set(key, figures);
  }

  detail(line) {
    this.details.push(line);
  }

  rows() {
    return ROWS.filter((r) => parts.includes(r.part)).map((r) => {
      const f = this.figures.get(r.key);
      const failure = this.failures.get(r.part);
      const base = { name: r.name, goal: r.goal, unit: r.unit };
      if (f === undefined) return makeRow({ ...base, status: `FAILED (${failure ?? "not measured"})` });
      return makeRow({ ...base, ...f, ceilingNote: f.ceilingNote ?? "-" });
    });
  }
}

const PART_RUNS = { blob: blobPart, raft: raftPart, failover: failoverPart, scale: scalePart };

/** The commit measured, and whether dist/ may hold uncommitted changes of the work tree. */
function commit() {
  try {
    const git = (...args) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " + uncommitted changes" : ""}`;
  } catch {
    return "unknown";
  }
}

async function main() {
  const loadStart = load();
  const report = new Report();
  say(`parts ${parts.join(", ")}; bound ${settings.totalS} s; etcd ${etcdInstalled ? "found" : "not installed"}`);
  for (const part of parts) {
    const started = performance.now();
    say(`== ${part}: start (load ${load()})`);
    try {
      await PART_RUNS[part](report);
    } catch (err) {
      // BenchFailed says which run and why; anything else is a bug here, reported with its stack.
      const reason = err instanceof BenchFailed ? err.message : String(err?.stack ?? err);
      report.failures.set(part, reason.split("\n")[0]);
      if (err.why !== undefined) report.detail(`${part} failed: ${err.why}`);
      say(`== ${part}: FAILED: ${reason}`);
    }
    say(`== ${part}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const rows = report.rows();
  const failed = report.failures.size > 0 || rows.some((r) => r.result.startsWith("FAILED"));
  const totalS = ((performance.now() - t0) / 1000).toFixed(0);
  const out = [
    `## bench:all, ${new Date().toISOString().slice(0, 16)}Z, commit ${commit()}`,
    `load average at start ${loadStart}, at the end ${load()}; ${totalS} s in all (bound ${settings.totalS} s)`,
    `settings: ${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}; etcd ${etcdInstalled ? "3 members, HTTP gateway" : "not installed"}`,
    "",
    formatTable(rows),
    "",
    ...report.details.map((d) => `- ${d}`),
  ];
  console.log(out.join("\n"));
  process.exitCode = failed ? 1 : 0;
}

await main();
