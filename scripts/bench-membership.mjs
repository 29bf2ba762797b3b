#!/usr/bin/env node
// Membership benchmark: grow a Raft group of masters from one to five while a client keeps
// writing, restart each of the five in turn, then shrink to three; count what the writes saw.
// Run with:  npm run bench:membership [-- --payload=1024 --concurrency=1]
//
//   node scripts/bench-membership.mjs [--payload=1024] [--concurrency=1] [--request-timeout-ms=5000]
//        [--steady-ms=5000] [--log-level=warn] [--keep] [--rolling-only]
//   (each flag also read from the environment: BENCH_PAYLOAD, BENCH_CONCURRENCY,
//    BENCH_REQUEST_TIMEOUT_MS, BENCH_STEADY_MS, BENCH_LOG_LEVEL; argv wins)
//
// Scenario, all on 127.0.0.1 with free ports, in a temp dir removed at the end:
//  1. master A alone, one volume server whose -mserver lists all five future masters; once an
//     assign succeeds, the continuous writer (dist/benchmark/continuous-writer.js) starts with the
//     same five addresses (refused ones are skipped, see its rules on what counts as failed).
//  2. "add B".."add E": start the master with -peers naming one member (A for B, B for C, ...);
//     the step ends when the leader's /cluster/raft lists it as a voter.
//  3. "rolling restart X" for each: SIGTERM, wait for the exit, start with the same flags; the
//     step ends when X answers /cluster/status, is a voter again and the leader's match for it is
//     within CAUGHT_UP_ENTRIES of the leader's lastIndex.
//  4. "remove E", "remove D": POST /cluster/raft/remove?id=... to a master, stop the process; the
//     step ends when the leader lists 3 voters.
//  5. "after the changes": --steady-ms more writes; every process the bench started must still run.
//  6. One line per step, totals, read-back of every acknowledged write, and PASS/MISS per target.
// --rolling-only: three masters started at once (-peers listing all three) and only step 3, for
// clusters without online membership changes.
// A MISS does not fail the run; the exit code is 1 only if the scenario could not run (a step
// timed out, a process died, the build is missing). Kills only the processes it started, by pid.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { freePortPair } from "./bench-ports.mjs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { request } from "undici";

const ROOT = resolve(import.meta.dirname, "..");
const WEED = join(ROOT, "bin/weed-ts.js");
const WRITER_JS = join(ROOT, "dist/benchmark/continuous-writer.js");

// Bounds (ms unless named otherwise).
const START_DEADLINE_MS = 30_000; // a fresh master leading, the volume server taking assigns
const STEP_DEADLINE_MS = 60_000; // any one step of the scenario
const EXIT_DEADLINE_MS = 15_000; // SIGTERM -> exit; then SIGKILL (and said so)
const PROBE_TIMEOUT_MS = 2_000; // each status request of the bench itself
const PROBE_MS = 20; // how often a step's end condition is checked
const PROGRESS_MS = 1_000; // a progress line while a step runs longer than this
const BASELINE_MS = 1_000; // writes before the first change, as a reference
// Writes after the last change, default: also long enough that a restarted master which gives up
// on something during its start-up (e.g. a wait for its own election) does so while the bench looks.
const STEADY_MS_DEFAULT = 5_000;
const CAUGHT_UP_ENTRIES = 5; // "caught up": the leader's match for it is this close to lastIndex
const RUN_DEADLINE_MS = 20 * 60_000; // the whole bench
// Targets (from the issue).
const TARGET_ADD_MS = 2_000;
const TARGET_STALL_MS = 500;

const { values: flags } = parseArgs({
  options: {
    payload: { type: "string", default: process.env.BENCH_PAYLOAD ?? "1024" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "1" },
    "request-timeout-ms": { type: "string", default: process.env.BENCH_REQUEST_TIMEOUT_MS ?? "5000" },
    "log-level": { type: "string", default: process.env.BENCH_LOG_LEVEL ?? "warn" },
    "steady-ms": { type: "string", default: process.env.BENCH_STEADY_MS ?? String(STEADY_MS_DEFAULT) },
    "rolling-only": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(
    "usage: bench-membership.mjs [--payload=1024] [--concurrency=1] [--request-timeout-ms=5000]\n" +
      "         [--steady-ms=5000] [--log-level=warn] [--keep] [--rolling-only]",
  );
  console.log(
    "  env: BENCH_PAYLOAD, BENCH_CONCURRENCY, BENCH_REQUEST_TIMEOUT_MS, BENCH_STEADY_MS, BENCH_LOG_LEVEL (argv wins)",
  );
  console.log("  --steady-ms: writes after the last change (every process must stay up)");
  console.log("  --rolling-only: 3 masters started at once, rolling restarts only (no add/remove)");
  process.exit(0);
}
function int(name, text, min, max) {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    console.error(`bench-membership: --${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}
const payloadBytes = int("payload", flags.payload, 8, 256 * 1024 * 1024);
const concurrency = int("concurrency", flags.concurrency, 1, 256);
const requestTimeoutMs = int("request-timeout-ms", flags["request-timeout-ms"], 100, 600_000);
const steadyMs = int("steady-ms", flags["steady-ms"], 0, 600_000);

if (!existsSync(WRITER_JS)) {
  console.error(`bench-membership: ${WRITER_JS} not found; build first: npm run build`);
  process.exit(2);
}
const { ContinuousWriter } = await import(pathToFileURL(WRITER_JS).href);

const runDeadline = Date.now() + RUN_DEADLINE_MS;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const fmt = (ms) => (ms === undefined || Number.isNaN(ms) ? "-" : ms.toFixed(0));
const log = (msg) => console.log(msg);

// ---------------------------------------------------------------------------------------------
// Ports and processes

const children = new Set(); // every child process started, for cleanup by pid

class Proc {
  constructor(name, args) {
    this.name = name;
    this.args = args;
    this.child = null;
    this.logTail = [];
    this.exited = Promise.resolve(null);
    this.wanted = false; // started by the bench and not (yet) stopped by it
    this.exitedAs = null; // exit code or signal of the last run
  }

  start() {
    const child = spawn(process.execPath, [WEED, ...this.args], { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (b) => {
      this.logTail.push(b.toString());
      if (this.logTail.length > 400) this.logTail.splice(0, 200);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    this.exited = new Promise((r) => child.once("exit", (code, sig) => r(sig ?? code)));
    void this.exited.then((how) => (this.exitedAs = how));
    this.wanted = true;
    children.add(child);
    void this.exited.then(() => children.delete(child));
    this.child = child;
  }

  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM this process (by pid), wait for its exit; SIGKILL after EXIT_DEADLINE_MS. Returns how it went. */
  async stop() {
    this.wanted = false;
    if (!this.alive) return { ms: 0, killed: false };
    const t0 = now();
    process.kill(this.child.pid, "SIGTERM");
    const done = await Promise.race([this.exited.then(() => true), sleep(EXIT_DEADLINE_MS).then(() => false)]);
    if (!done) {
      if (this.alive) process.kill(this.child.pid, "SIGKILL");
      await this.exited;
    }
    return { ms: now() - t0, killed: !done };
  }

  tail() {
    return this.logTail.join("").slice(-3000);
  }
}

class Master extends Proc {
  constructor(name, port, dir, peers) {
    const args = ["master", `-port=${port}`, `-mdir=${dir}`, "-ip=127.0.0.1", `-logLevel=${flags["log-level"]}`];
    if (peers !== "") args.push(`-peers=${peers}`);
    super(name, args);
    this.addr = `127.0.0.1:${port}`;
    this.base = `http://${this.addr}`;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP probes (each bounded by PROBE_TIMEOUT_MS)

async function http(url, opts = {}) {
  const r = await request(url, {
    headersTimeout: PROBE_TIMEOUT_MS,
    bodyTimeout: PROBE_TIMEOUT_MS,
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    ...opts,
  });
  const text = await r.body.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.statusCode, json, text };
}

async function raftOf(m) {
  if (!m.alive) return null;
  try {
    const r = await http(`${m.base}/cluster/raft`);
    return r.status === 200 && r.json ? r.json : null;
  } catch {
    return null;
  }
}

async function answersStatus(m) {
  if (!m.alive) return false;
  try {
    return (await http(`${m.base}/cluster/status`)).status === 200;
  } catch {
    return false;
  }
}

/** The /cluster/raft of the live master that leads in the highest term, or null. */
async function leaderView(masters) {
  const views = await Promise.all(masters.map(raftOf));
  let best = null;
  for (const v of views) if (v !== null && v.role === "leader" && (best === null || v.term > best.term)) best = v;
  return best;
}

const voters = (view) => view.members.filter((m) => m.suffrage === "voter").map((m) => m.id);

function caughtUp(view, id) {
  const m = view.members.find((x) => x.id === id);
  return (
    m !== undefined &&
    m.suffrage === "voter" &&
    typeof m.match === "number" &&
    m.match >= view.lastIndex - CAUGHT_UP_ENTRIES
  );
}

/**
 * Polls `check` every PROBE_MS until it returns a value; throws after `deadlineMs`. `progress`,
 * if given, is called on every poll with due=true once per PROGRESS_MS (it may throw to give up).
 */
async function until(what, deadlineMs, check, progress) {
  const deadline = Math.min(now() + deadlineMs, now() + (runDeadline - Date.now()));
  let nextProgress = now() + PROGRESS_MS;
  for (let k = 0; now() < deadline; k++) {
    const v = await check();
    if (v !== null && v !== undefined && v !== false) return v;
    const due = now() >= nextProgress;
    if (due) nextProgress += PROGRESS_MS;
    progress?.(due);
    await sleep(PROBE_MS);
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------
// The scenario

const STEP_NAME_WIDTH = 22;

function stepLine(s, detail) {
  const errs = s.errors.length === 0 ? "" : `  errors: ${s.errors.map((e) => `${e.count}x ${e.message}`).join("; ")}`;
  const counts = `acked ${String(s.acked).padStart(6)}  failed ${String(s.failed).padStart(4)}`;
  return (
    `  ${s.step.padEnd(STEP_NAME_WIDTH)} ${fmt(s.durationMs).padStart(6)} ms  ${counts}` +
    `  longest stall ${fmt(s.longestStallMs).padStart(5)} ms${detail ? `  (${detail})` : ""}${errs}`
  );
}

class Scenario {
  constructor(writer, masters, volume) {
    this.writer = writer;
    this.volume = volume;
    this.masters = masters; // all five (or three); members or not
    this.details = new Map(); // step -> detail text
  }

  live() {
    return this.masters.filter((m) => m.alive);
  }

  /** A process the bench did not stop has exited: the scenario cannot go on. */
  assertWanted() {
    for (const p of [...this.masters, this.volume]) {
      if (p.wanted && !p.alive) {
        const who = p.name === "volume" ? "the volume server" : `master ${p.name}`;
        throw new Error(`${who} exited on its own (${p.exitedAs}):\n${p.tail()}`);
      }
    }
  }

  progress(step) {
    return () => {
      const s = this.writer.report().steps.at(-1);
      log(`    .. ${step}: ${fmt(s.durationMs)} ms, ${s.acked} acked, ${s.failed} failed so far`);
    };
  }

  /** One step: mark the writer, run `body`, print the step's line. */
  async step(name, body) {
    this.assertWanted();
    this.writer.mark(name);
    const progress = this.progress(name);
    const detail = await body((due) => {
      this.assertWanted();
      if (due) progress();
    });
    this.assertWanted();
    this.details.set(name, detail);
    const s = this.writer.report().steps.at(-1);
    log(stepLine(s, detail));
  }

  async add(m, via) {
    await this.step(`add ${m.name}`, async (progress) => {
      const t0 = now();
      m.start();
      await until(
        `${m.name} to answer /cluster/status`,
        STEP_DEADLINE_MS,
        () => {
          if (!m.alive) throw new Error(`${m.name} exited:\n${m.tail()}`);
          return answersStatus(m);
        },
        progress,
      );
      const upMs = now() - t0;
      await until(
        `the leader to list ${m.addr} as a voter`,
        STEP_DEADLINE_MS,
        async () => {
          if (!m.alive) throw new Error(`${m.name} exited:\n${m.tail()}`);
          const v = await leaderView(this.live());
          return v !== null && voters(v).includes(m.addr);
        },
        progress,
      );
      return `joined via ${via.name}; listening after ${fmt(upMs)} ms, voter after ${fmt(now() - t0)} ms`;
    });
  }

  async restart(m) {
    await this.step(`rolling restart ${m.name}`, async (progress) => {
      const before = await leaderView(this.live());
      const wasLeader = before !== null && before.id === m.addr;
      const stopped = await m.stop();
      const t0 = now();
      m.start();
      await until(
        `${m.name} to answer /cluster/status after restart`,
        STEP_DEADLINE_MS,
        () => {
          if (!m.alive) throw new Error(`${m.name} exited after restart:\n${m.tail()}`);
          return answersStatus(m);
        },
        progress,
      );
      const upMs = now() - t0;
      const view = await until(
        `${m.name} back as a caught-up voter`,
        STEP_DEADLINE_MS,
        async () => {
          if (!m.alive) throw new Error(`${m.name} exited after restart:\n${m.tail()}`);
          const v = await leaderView(this.live());
          return v !== null && caughtUp(v, m.addr) ? v : null;
        },
        progress,
      );
      const killed = stopped.killed ? " (SIGKILL: no exit on SIGTERM)" : "";
      return (
        `${wasLeader ? "was leader; " : ""}exit ${fmt(stopped.ms)} ms${killed}, ` +
        `status after ${fmt(upMs)} ms, caught up after ${fmt(now() - t0)} ms; leader ${view.id}`
      );
    });
  }

  async remove(m) {
    await this.step(`remove ${m.name}`, async (progress) => {
      // Any member will do; the bench asks the first live one that is not being removed.
      const via = this.live().find((x) => x !== m);
      if (via === undefined) throw new Error(`no live master to ask to remove ${m.name}`);
      const t0 = now();
      const r = await http(`${via.base}/cluster/raft/remove?id=${encodeURIComponent(m.addr)}`, {
        method: "POST",
        signal: AbortSignal.timeout(STEP_DEADLINE_MS),
        headersTimeout: STEP_DEADLINE_MS,
      });
      if (r.status !== 200) {
        const why = r.json?.error ?? r.text.slice(0, 300);
        throw new Error(`POST ${via.addr}/cluster/raft/remove?id=${m.addr}: HTTP ${r.status}: ${why}`);
      }
      const answerMs = now() - t0;
      const stopped = await m.stop();
      const expected = this.masters.filter((x) => x.alive).map((x) => x.addr);
      const view = await until(
        `the leader to list ${expected.length} voters without ${m.addr}`,
        STEP_DEADLINE_MS,
        async () => {
          const v = await leaderView(this.live());
          return v !== null && !voters(v).includes(m.addr) && voters(v).length === expected.length ? v : null;
        },
        progress,
      );
      const membership = r.json?.membership ?? r.json; // {voters, learners, ...} at either level
      const result = typeof r.json?.result === "string" ? `${r.json.result}, ` : "";
      const answer = `${result}voters ${(membership?.voters ?? []).length}`;
      return (
        `answered by ${via.name} in ${fmt(answerMs)} ms (${answer}), exit ${fmt(stopped.ms)} ms; ` +
        `${voters(view).length} voters, leader ${view.id}`
      );
    });
  }
}

async function waitLeader(masters, what) {
  return until(what, START_DEADLINE_MS, async () => {
    for (const m of masters) if (!m.alive) throw new Error(`${m.name} exited:\n${m.tail()}`);
    return leaderView(masters);
  });
}

async function waitAssign(m, volume) {
  await until("an assign to succeed", START_DEADLINE_MS, async () => {
    if (!volume.alive) throw new Error(`the volume server exited:\n${volume.tail()}`);
    try {
      return (await http(`${m.base}/dir/assign`)).status === 200;
    } catch {
      return false;
    }
  });
}

function printTargets(report, v, addSteps, rollingOnly) {
  const stalls = report.steps.filter((s) => s.step !== "start");
  const worst = stalls.reduce((a, s) => (a === null || s.longestStallMs > a.longestStallMs ? s : a), null);
  const slowestAdd = addSteps.reduce((a, s) => (a === null || s.durationMs > a.durationMs ? s : a), null);
  const row = (ok, text) => log(`  ${ok ? "PASS" : "MISS"}  ${text}`);
  log("\ntargets:");
  row(
    report.totals.failed === 0,
    `zero failed writes: ${report.totals.failed} failed of ${report.totals.acked + report.totals.failed}`,
  );
  const forgotten = report.notRemembered ? `, ${report.notRemembered} acked but not remembered` : "";
  row(
    v.lost === 0 && v.wrong === 0 && report.notRemembered === 0,
    `nothing lost: ${v.checked} checked, ${v.lost} lost, ${v.wrong} wrong${forgotten}`,
  );
  if (!rollingOnly) {
    const slowest = slowestAdd ? `${slowestAdd.step} ${fmt(slowestAdd.durationMs)} ms` : "-";
    row(
      slowestAdd !== null && slowestAdd.durationMs < TARGET_ADD_MS,
      `each add under ${TARGET_ADD_MS} ms: slowest ${slowest}`,
    );
  }
  row(
    worst !== null && worst.longestStallMs < TARGET_STALL_MS,
    `longest stall under ${TARGET_STALL_MS} ms: ${worst ? `${fmt(worst.longestStallMs)} ms in "${worst.step}"` : "-"}`,
  );
}

/** The masters (A starts alone unless --rolling-only) and the volume server; none started. */
async function makeCluster(root) {
  const taken = new Set();
  const names = flags["rolling-only"] ? ["A", "B", "C"] : ["A", "B", "C", "D", "E"];
  const ports = [];
  for (const _ of names) ports.push(await freePortPair(taken));
  const volumePort = await freePortPair(taken);
  const addrs = ports.map((p) => `127.0.0.1:${p}`);
  const masters = names.map((n, i) => {
    // A starts alone; each later master names the one before it (any one member will do).
    const peers = flags["rolling-only"] ? addrs.join(",") : i === 0 ? "" : addrs[i - 1];
    return new Master(n, ports[i], join(root, `m${n}`), peers);
  });
  const volume = new Proc("volume", [
    "volume",
    `-port=${volumePort}`,
    `-dir=${join(root, "v")}`,
    `-mserver=${addrs.join(",")}`,
    "-ip=127.0.0.1",
    `-logLevel=${flags["log-level"]}`,
  ]);
  return { masters, volume, volumePort, addrs };
}

function loadAverage() {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
}

function printSetup({ masters, volumePort, addrs }, root) {
  const plan = flags["rolling-only"]
    ? "3 masters started together, rolling restarts"
    : "grow 1 -> 5 masters, rolling restarts, shrink to 3";
  log(`bench-membership: ${plan}; data in ${root}`);
  const writes = `${concurrency} worker(s), ${payloadBytes}-byte payloads, ${requestTimeoutMs} ms request timeout`;
  log(`  writer: ${writes}; load average ${loadAverage()}`);
  for (const m of masters) {
    const peers = m.args.find((a) => a.startsWith("-peers="));
    log(`  master ${m.name}: ${m.addr}${peers ? `  ${peers}` : ""}`);
  }
  log(`  volume: 127.0.0.1:${volumePort}  -mserver=${addrs.join(",")}`);
}

/** Starts the first master(s) and the volume server; returns once an assign succeeds. */
async function startCluster({ masters, volume }) {
  const t0 = now();
  const initial = flags["rolling-only"] ? masters : [masters[0]];
  for (const m of initial) m.start();
  const leader = await waitLeader(initial, "a leader");
  volume.start();
  await waitAssign(masters.find((m) => m.addr === leader.id) ?? masters[0], volume);
  log(`cluster up in ${fmt(now() - t0)} ms (leader ${leader.id}); writing\n`);
}

async function runScenario(scenario, masters) {
  if (!flags["rolling-only"]) {
    for (let i = 1; i < masters.length; i++) await scenario.add(masters[i], masters[i - 1]);
  }
  for (const m of masters) await scenario.restart(m);
  if (!flags["rolling-only"]) {
    await scenario.remove(masters[4]);
    await scenario.remove(masters[3]);
  }
  await scenario.step("after the changes", async (progress) => {
    const end = now() + steadyMs;
    await until("the end of the steady period", steadyMs + 1_000, async () => now() >= end, progress);
    return `${scenario.live().length} masters running, every process the bench started still up`;
  });
}

/** Totals, read-back, targets, the final membership and the RESULT line. */
async function printResults(writer, scenario) {
  const report = writer.report();
  log("");
  log(stepLine({ ...report.totals, step: "TOTAL" }, `${report.steps.length} steps`));
  log("\nreading back every acknowledged write ...");
  const tv = now();
  const v = await writer.verify();
  log(`verify: ${v.checked} checked, ${v.lost} lost, ${v.wrong} wrong (${fmt(now() - tv)} ms)`);
  for (const e of v.errors) log(`  ${e}`);
  const addSteps = report.steps.filter((s) => s.step.startsWith("add "));
  printTargets(report, v, addSteps, flags["rolling-only"]);
  const final = await leaderView(scenario.live());
  const membership = final
    ? `${voters(final).length} voters (${voters(final).join(", ")}), leader ${final.id}`
    : "no leader";
  log(`\nfinal membership: ${membership}; load average ${loadAverage()}`);
  log(
    `RESULT ${JSON.stringify({
      payloadBytes,
      concurrency,
      steps: report.steps.map((s) => ({
        step: s.step,
        ms: Math.round(s.durationMs),
        acked: s.acked,
        failed: s.failed,
        stallMs: Math.round(s.longestStallMs),
      })),
      acked: report.totals.acked,
      failed: report.totals.failed,
      verify: { checked: v.checked, lost: v.lost, wrong: v.wrong },
    })}`,
  );
}

/** The scenario could not run: the processes' log tails, and what the writes saw until then. */
async function printFailure(err, { masters, volume }, writer) {
  console.error(`\nbench-membership: the scenario could not run: ${err?.stack ?? err}`);
  for (const p of [...masters, volume])
    if (p.child !== null) console.error(`--- ${p.name} (${p.alive ? "running" : "exited"}) log tail ---\n${p.tail()}`);
  const r = writer.report();
  if (r.steps.length > 0) {
    // What the writes saw up to the failure, and whether what was acked is still readable.
    await writer.stop();
    console.error("\nsteps so far:");
    for (const s of writer.report().steps) console.error(stepLine(s));
    const v = await writer.verify().catch((e) => ({ checked: 0, lost: 0, wrong: 0, errors: [`verify failed: ${e}`] }));
    console.error(`verify (so far): ${v.checked} checked, ${v.lost} lost, ${v.wrong} wrong`);
    for (const e of v.errors) console.error(`  ${e}`);
  }
}

/** Stops the writer and every child (also on SIGINT/SIGTERM and at exit); idempotent. */
function cleanupOnExit({ masters, volume }, writer, root) {
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await writer.stop().catch(() => {});
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.race([Promise.all([...masters, volume].map((p) => p.exited)), sleep(EXIT_DEADLINE_MS)]);
    if (!flags.keep) await rm(root, { recursive: true, force: true });
    else log(`data kept in ${root}`);
  };
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.once(sig, () => {
      log(`\nbench-membership: ${sig}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  // Last resort if the event loop is torn down some other way: no child outlives the bench.
  process.once("exit", () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
  return cleanup;
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), "bench-membership-"));
  const cluster = await makeCluster(root);
  const writer = new ContinuousWriter({ masters: cluster.addrs, payloadBytes, concurrency, requestTimeoutMs });
  const cleanup = cleanupOnExit(cluster, writer, root);
  try {
    printSetup(cluster, root);
    await startCluster(cluster);
    const scenario = new Scenario(writer, cluster.masters, cluster.volume);
    writer.start();
    await sleep(BASELINE_MS);
    log(stepLine(writer.report().steps[0], "baseline before any change"));
    await runScenario(scenario, cluster.masters);
    await writer.stop();
    await printResults(writer, scenario);
  } catch (err) {
    await printFailure(err, cluster, writer);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
