#!/usr/bin/env node
// 1,000 volume servers per leader (issue 15): three real masters (`weed-ts master` processes on
// 127.0.0.1) and BENCH_SCALE_SERVERS simulated volume servers (scripts/bench-scale-fleet.mjs: the
// volume server's own heartbeat client over a store without data, BENCH_SCALE_VOLUMES volumes each,
// in BENCH_SCALE_FLEETS processes). Needs a build (npm run build). Prints, with the load average:
//   1. ramp: how long until the leader lists every server and volume (MaxVolumeId is raised in steps:
//      see the fleet's header);
//   2. steady state for BENCH_SCALE_MEASURE_SECONDS at the pulse (BENCH_SCALE_PULSE_SECONDS, 5): the
//      leader's CPU (% of one core, utime+stime from /proc/<pid>/stat over the window) and RSS, and
//      heartbeat latency (a beat's write to its answer, measured in the fleets);
//   3. /dir/assign at concurrency 1 and 16 (every answer must name a simulated server), /dir/lookup of
//      random volumes at concurrency 1: p50/p99;
//   4. kill -9 of the leader: time to the first successful assign through a survivor (polled every
//      10 ms), to the election seen by /cluster/status, and until the new leader lists every server;
//      then where that time went: the new leader's own times from its election (first beat applied,
//      file keys in hand, first assign: SeaweedFS_master_leader_ready_seconds) and the simulated
//      servers' (their heartbeat clients' log events, by 250 ms after the kill: stream lost, polls
//      answered "no leader" or with the old leader, redirects, answered by the new leader).
// Last line: `RESULT {json}` with the figures (see printResult), for scripts that collect benchmarks.
// BENCH_SCALE_CPU_PROF=<dir>: masters run under node --cpu-prof; instead of step 4 the leader is
// stopped with SIGTERM (so it writes its profile) and the profile's top frames over the steady-state
// window are printed. BENCH_SCALE_SECONDS bounds the whole run (default 300). BENCH_SCALE_DIR: where
// the masters' temp dir goes (default the OS temp dir); /dev/shm keeps their Raft fsyncs off a disk
// that other work on a shared machine keeps busy (a slow fsync delays the leader's Raft heartbeats
// and costs elections that have nothing to do with the volume servers' load). BENCH_SCALE_LOG_DIR:
// each master's whole output goes to <dir>/<name>.log (kept), at BENCH_SCALE_LOG_LEVEL (warn).
// BENCH_SCALE_NODE_ARGS: node flags for the masters and the fleets, "{name}" replaced by the process's
// name (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p/{name}": the survivors and the fleets write theirs when
// stopped at the end, so the failover is in them). Exit 1 when the bench
// itself failed (cluster not up, servers not registered, no new leader), not when a goal is missed.
// Kills only the processes it started, by pid; removes its temp dir.
import { fork, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Agent, request } from "undici";
import { freePortPair } from "./bench-ports.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const WEED = join(ROOT, "bin/weed-ts.js");
const FLEET = join(ROOT, "scripts/bench-scale-fleet.mjs");
if (!existsSync(join(ROOT, "dist/cli/main.js"))) {
  console.error("bench-scale: dist/ not found; build first: npm run build");
  process.exit(2);
}
const { procSample, cpuPercent } = await import(join(ROOT, "dist/benchmark/proc-usage.js"));
const { topFrames } = await import(join(ROOT, "dist/benchmark/cpu-profile-top.js"));
const { LatencyHistogram } = await import(join(ROOT, "dist/benchmark/latency-histogram.js"));

function envInt(name, dflt, min) {
  const text = process.env[name];
  const n = text === undefined || text === "" ? dflt : Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`bench-scale: ${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}
const SERVERS = envInt("BENCH_SCALE_SERVERS", 1000, 1);
const VOLUMES = envInt("BENCH_SCALE_VOLUMES", 100, 1);
const RUN_SECONDS = envInt("BENCH_SCALE_SECONDS", 300, 10);
const MEASURE_SECONDS = envInt("BENCH_SCALE_MEASURE_SECONDS", 30, 1);
const PULSE_SECONDS = envInt("BENCH_SCALE_PULSE_SECONDS", 5, 1);
const FLEETS = Math.min(SERVERS, envInt("BENCH_SCALE_FLEETS", 2, 1));
const ASSIGNS = envInt("BENCH_SCALE_ASSIGNS", 5000, 1);
const PROFILE_DIR = process.env.BENCH_SCALE_CPU_PROF ?? "";
const LOG_DIR = process.env.BENCH_SCALE_LOG_DIR ?? "";
const LOG_LEVEL = process.env.BENCH_SCALE_LOG_LEVEL || "warn";
const NODE_ARGS = (process.env.BENCH_SCALE_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");

// Bounds (ms).
const START_DEADLINE_MS = 30_000; // three masters up and one leader agreed
const REGISTER_DEADLINE_MS = 180_000; // every server and volume listed by the leader
const FAILOVER_DEADLINE_MS = 30_000; // kill -> first assign, and -> every server back
const REQUEST_TIMEOUT_MS = 2_000; // each HTTP request
const PHASE_MS_MAX = 20_000; // each assign/lookup phase, besides its request count
const POLL_MS = 100; // status polls while waiting
// The leader's /metrics while servers register: prom-client's process metrics count open fds (a
// readdir of 1,000+ sockets), so it is asked twice a second, not at POLL_MS, to keep out of the way.
const LISTED_POLL_MS = 500;
const LEADER_POLL_MS = 250; // /cluster/status of every master, to notice leader changes
const PROGRESS_MS = 10_000; // a progress line while servers register
const FAILOVER_POLL_MS = 10; // assign polls after the kill
const STOP_GRACE_MS = 15_000; // SIGTERM -> SIGKILL (a profiled leader writes its profile meanwhile)
// Goals (issue 15).
const GOAL_CPU_PERCENT = 50;
const GOAL_ASSIGN_P99_MS = 5;
const GOAL_READY_MS = 2_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const fmt = (ms) =>
  ms === undefined || ms === null || Number.isNaN(ms) ? "-" : ms < 10 ? ms.toFixed(2) : ms.toFixed(0);
const log = (msg) => console.log(`[${(now() / 1000).toFixed(1)}s] ${msg}`);
const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 32 });

async function getText(url) {
  const r = await request(url, { dispatcher, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  return { status: r.statusCode, text: await r.body.text() };
}
/** `json` for a 200; `text` (the body, e.g. `{"error": ...}`) either way, for error messages. */
async function getJson(url) {
  const r = await getText(url);
  return { status: r.status, json: r.status === 200 ? JSON.parse(r.text) : undefined, text: r.text };
}
async function tryJson(url) {
  try {
    return (await getJson(url)).json;
  } catch {
    return undefined;
  }
}

class Master {
  constructor(i, port, peers, dir) {
    this.name = `m${i + 1}`;
    this.addr = `127.0.0.1:${port}`;
    this.base = `http://${this.addr}`;
    const prof = PROFILE_DIR === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${join(PROFILE_DIR, this.name)}`];
    this.args = [
      ...NODE_ARGS.map((a) => a.replaceAll("{name}", this.name)),
      ...prof,
      WEED,
      "master",
      "-ip=127.0.0.1",
      `-port=${port}`,
      `-peers=${peers}`,
    ];
    this.args.push(`-mdir=${join(dir, this.name)}`, `-pulseSeconds=${PULSE_SECONDS}`, `-logLevel=${LOG_LEVEL}`);
    this.child = null;
    this.tail = [];
  }
  start() {
    this.startedAt = now();
    this.child = spawn(process.execPath, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (b) => {
      this.tail.push(b.toString());
      if (this.tail.length > 50) this.tail.shift();
    };
    if (LOG_DIR !== "") {
      mkdirSync(LOG_DIR, { recursive: true });
      const file = createWriteStream(join(LOG_DIR, `${this.name}.log`), { flags: "a" });
      this.child.stdout.pipe(file);
      this.child.stderr.pipe(file);
    }
    this.child.stdout.on("data", keep);
    this.child.stderr.on("data", keep);
    this.exited = new Promise((r) => this.child.once("exit", r));
  }
  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }
  async stop(signal = "SIGTERM") {
    if (!this.alive) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.alive && this.child.kill("SIGKILL"), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls until `check` returns a value (not undefined) or `deadlineMs` passes (throws `what`). */
async function waitFor(what, deadlineMs, check, pollMs = POLL_MS) {
  const end = now() + deadlineMs;
  while (now() < end) {
    const v = await check();
    if (v !== undefined) return v;
    await sleep(pollMs);
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
}

/** The master all live ones name as leader, once exactly one claims it. */
async function agreedLeader(masters) {
  return waitFor("one leader agreed by all masters", START_DEADLINE_MS, async () => {
    const live = masters.filter((m) => m.alive);
    const all = await Promise.all(live.map((m) => tryJson(`${m.base}/cluster/status`)));
    if (all.some((s) => s === undefined)) return undefined;
    const named = new Set(all.map((s) => s.Leader));
    const claiming = live.filter((_, k) => all[k].IsLeader);
    return named.size === 1 && claiming.length === 1 ? claiming[0] : undefined;
  });
}

/** Servers and volumes the master lists (its /metrics gauges). */
async function listed(master) {
  try {
    const { status, text } = await getText(`${master.base}/metrics`);
    if (status !== 200) return undefined;
    const gauge = (name) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? -1);
    return { servers: gauge("SeaweedFS_master_volume_servers"), volumes: gauge("SeaweedFS_master_volumes") };
  } catch {
    return undefined;
  }
}

/** The master's own timing of its way to ready since its election (leader-readiness.ts), ms by step. */
async function readiness(master) {
  try {
    const { status, text } = await getText(`${master.base}/metrics`);
    if (status !== 200) return {};
    const steps = text.matchAll(/^SeaweedFS_master_leader_ready_seconds\{step="(\w+)"\} ([\d.e+-]+)$/gm);
    return Object.fromEntries([...steps].map(([, step, s]) => [step, Number(s) * 1000]));
  } catch {
    return {};
  }
}

/** Leader changes seen by the bench's polls (term by term), for the report: a stable run has none. */
const leaderChanges = [];

/** Polls /cluster/status every POLL_MS; notes each new leader. Returns the function that stops it. */
function watchLeader(masters) {
  let last;
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const all = await Promise.all(masters.filter((m) => m.alive).map((m) => tryJson(`${m.base}/cluster/status`)));
      const leader = all.find((s) => s?.IsLeader === true)?.Leader;
      if (leader !== undefined && leader !== last) {
        if (last !== undefined) leaderChanges.push({ atMs: now(), from: last, to: leader });
        last = leader;
      }
      await sleep(LEADER_POLL_MS);
    }
  })();
  return () => (stopped = true);
}

/** The master that says it leads now, or undefined. */
async function currentLeader(masters) {
  const live = masters.filter((m) => m.alive);
  const all = await Promise.all(live.map((m) => tryJson(`${m.base}/cluster/status`)));
  const k = all.findIndex((s) => s?.IsLeader === true);
  return k < 0 ? undefined : live[k];
}

/** CPU (% of a core) of each process since the previous call, e.g. "m1 12%, fleet0 35%". */
function cpuSince(procs, prev) {
  const t = now();
  const parts = [];
  for (const [name, pid] of procs) {
    let sample;
    try {
      sample = procSample(pid);
    } catch {
      continue; // gone (killed)
    }
    const p = prev.get(name);
    if (p !== undefined) parts.push(`${name} ${cpuPercent(p.sample, sample, (t - p.t) / 1000).toFixed(0)}%`);
    prev.set(name, { sample, t });
  }
  return parts.join(", ");
}

/** The processes whose CPU progress lines show: the masters and the fleets. */
let watched = [];

/** Waits until the leader of the moment lists every server and volume; returns that leader. */
async function everyServerListed(masters, deadlineMs) {
  let lastLog = now();
  const prevCpu = new Map();
  cpuSince(watched, prevCpu);
  const what = `${SERVERS} servers and ${SERVERS * VOLUMES} volumes on the leader`;
  return waitFor(
    what,
    deadlineMs,
    async () => {
      const leader = await currentLeader(masters);
      const l = leader === undefined ? undefined : await listed(leader);
      if (now() - lastLog > PROGRESS_MS) {
        lastLog = now();
        log(`leader ${leader?.name} lists ${l?.servers} servers, ${l?.volumes} volumes (load ${load()})`);
        log(`  CPU: ${cpuSince(watched, prevCpu)}`);
      }
      return l !== undefined && l.servers === SERVERS && l.volumes === SERVERS * VOLUMES ? leader : undefined;
    },
    LISTED_POLL_MS,
  );
}

function startFleets(masters, clusterId, dir) {
  const per = Math.ceil(SERVERS / FLEETS);
  const fleets = [];
  for (let f = 0; f * per < SERVERS; f++) {
    const cfg = { masters: masters.map((m) => m.addr), first: f * per, count: Math.min(per, SERVERS - f * per) };
    Object.assign(cfg, { volumes: VOLUMES, pulseMs: PULSE_SECONDS * 1000, clusterId, trace: true });
    cfg.dir = join(dir, `fleet${f}`); // removed with the masters' dir, even if the fleet is killed
    const execArgv = NODE_ARGS.map((a) => a.replaceAll("{name}", `fleet${f}`));
    const child = fork(FLEET, [], { execArgv, env: { ...process.env, BENCH_SCALE_FLEET: JSON.stringify(cfg) } });
    child.on("message", (m) => m.type === "failed" && log(`fleet ${f}: ${m.error}`));
    fleets.push(child);
  }
  return fleets;
}

/** Each fleet's stats (and resets its counters), merged: the slowest fleet's percentiles. */
async function fleetStats(fleets) {
  const one = (child) =>
    new Promise((res) => {
      const onMsg = (m) => m.type === "stats" && (child.off("message", onMsg), res(m));
      child.on("message", onMsg);
      child.send({ cmd: "stats", reset: true });
    });
  const all = await Promise.all(fleets.map(one));
  const worst = (key, f) => Math.max(...all.map((s) => (s[key] === null ? 0 : s[key][f])));
  return {
    connected: all.reduce((n, s) => n + s.connected, 0),
    beats: all.reduce((n, s) => n + s.beatsAnswered, 0),
    rtt: { p50: worst("rtt", "p50"), p99: worst("rtt", "p99"), max: worst("rtt", "max") },
    first: { p50: worst("firstRtt", "p50"), p99: worst("firstRtt", "p99"), max: worst("firstRtt", "max") },
  };
}

/** Each fleet's heartbeat-client events since `sinceEpochMs`, merged. */
async function fleetTrace(fleets, sinceEpochMs) {
  const one = (child) =>
    new Promise((res) => {
      const onMsg = (m) => m.type === "trace" && (child.off("message", onMsg), res(m.events));
      child.on("message", onMsg);
      child.send({ cmd: "trace", since: sinceEpochMs });
    });
  return (await Promise.all(fleets.map(one))).flat();
}

/** Percentiles of `xs` (ms) as "p50 a, p99 b, max c". */
function spread(xs) {
  if (xs.length === 0) return "none";
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor((q / 100) * s.length))];
  return `min ${fmt(s[0])}, p50 ${fmt(at(50))}, p90 ${fmt(at(90))}, p99 ${fmt(at(99))}, max ${fmt(s[s.length - 1])}`;
}

/** Short names for the heartbeat client's log messages in the failover breakdown. */
const TRACE_NAMES = [
  ["heartbeat stream lost", "lost"],
  ["master did not answer", "no-answer"],
  ["master refused the heartbeat", "refused"],
  ["master still names the leader we lost", "names-old"],
  ["master names another leader", "redirect"],
  ["heartbeating to master", "connected"],
  ["opening a heartbeat stream", "open"],
];

/**
 * Where the simulated servers' time went after the kill (ms since it): when each lost its stream,
 * when each was answered by the new leader, and what each poll in between got, by 250 ms bins.
 */
function failoverBreakdown(events, killEpochMs) {
  const name = (msg) => TRACE_NAMES.find(([prefix]) => msg.startsWith(prefix))?.[1] ?? "other";
  const lost = new Map();
  const connected = new Map();
  const polls = new Map();
  const bins = new Map();
  for (const e of events.sort((a, b) => a.t - b.t)) {
    const ms = e.t - killEpochMs;
    const n = name(e.msg);
    if (n === "lost" && !lost.has(e.i)) lost.set(e.i, ms);
    else if (n === "connected" && !connected.has(e.i)) connected.set(e.i, ms);
    else if (!connected.has(e.i)) polls.set(e.i, (polls.get(e.i) ?? 0) + 1);
    const bin = Math.floor(ms / 250) * 250;
    const counts = bins.get(bin) ?? new Map();
    counts.set(n, (counts.get(n) ?? 0) + 1);
    bins.set(bin, counts);
  }
  const lines = [
    `servers' streams lost after the kill (ms): ${spread([...lost.values()])}`,
    `servers answered by a master after the kill (ms): ${spread([...connected.values()])} (${connected.size})`,
    `polls before that, per server: ${spread([...polls.values()])}`,
    "heartbeat-client events by 250 ms after the kill:",
  ];
  for (const [bin, counts] of [...bins].sort((a, b) => a[0] - b[0]))
    lines.push(`  ${String(bin).padStart(6)}  ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")}`);
  return lines;
}

/** The leader's CPU and RSS over MEASURE_SECONDS of heartbeats only, and the beats' latency. */
async function steadyState(leader, fleets) {
  // Two pulses first: the ramp's burst (joins, location pushes, Raft steps) is behind us.
  await sleep(2 * PULSE_SECONDS * 1000);
  await fleetStats(fleets);
  const t0 = now();
  const before = procSample(leader.child.pid);
  const prevCpu = new Map();
  cpuSince(watched, prevCpu);
  await sleep(MEASURE_SECONDS * 1000);
  const after = procSample(leader.child.pid);
  const all = cpuSince(watched, prevCpu);
  const wall = (now() - t0) / 1000;
  const beats = await fleetStats(fleets);
  const cpu = cpuPercent(before, after, wall);
  return { cpu, all, rssMb: after.rssBytes / 2 ** 20, wall, beats, windowStart: t0 };
}

const SIMULATED = /^127\.1\.\d+\.\d+:8080$/;

/** `total` requests from `concurrency` workers (bounded by PHASE_MS_MAX): latency and failures. */
async function phase(concurrency, total, one) {
  const h = new LatencyHistogram();
  let next = 0;
  let failed = 0;
  let firstError;
  const end = now() + PHASE_MS_MAX;
  const worker = async () => {
    while (next < total && now() < end) {
      next++;
      const t = now();
      try {
        await one();
        h.record(now() - t);
      } catch (err) {
        failed++;
        firstError ??= String(err);
      }
    }
  };
  const t0 = now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (now() - t0) / 1000;
  return { n: h.count, failed, firstError, p50: h.percentile(50), p99: h.percentile(99), rate: h.count / secs };
}

async function assignOnce(master) {
  const { status, json, text } = await getJson(`${master.base}/dir/assign`);
  if (status !== 200 || json?.fid === undefined) throw new Error(`assign: ${status} ${text.slice(0, 200)}`);
  if (!SIMULATED.test(json.url)) throw new Error(`assign named ${json.url}, not a simulated server`);
}

async function lookupOnce(master) {
  const vid = 1 + Math.floor(Math.random() * SERVERS * VOLUMES);
  const { status, json } = await getJson(`${master.base}/dir/lookup?volumeId=${vid}`);
  if (status !== 200 || json?.locations?.length !== 1) throw new Error(`lookup ${vid}: ${status}`);
}

/** kill -9 of the leader: ms to the election, the first assign through a survivor, every server back. */
async function failover(masters, leader) {
  const survivors = masters.filter((m) => m !== leader);
  const t0 = now();
  const killEpochMs = performance.timeOrigin + t0;
  leader.child.kill("SIGKILL");
  const elected = waitFor(
    "a new leader",
    FAILOVER_DEADLINE_MS,
    async () => {
      const all = await Promise.all(survivors.map((m) => tryJson(`${m.base}/cluster/status`)));
      const k = all.findIndex((s) => s?.IsLeader === true);
      if (k < 0) return undefined;
      const ms = now() - t0;
      return { master: survivors[k], ms, term: (await tryJson(`${survivors[k].base}/cluster/raft`))?.term };
    },
    FAILOVER_POLL_MS,
  );
  // Assigns go out every FAILOVER_POLL_MS without waiting for the previous one (a new leader holds an
  // assign while its servers report): the first one answered with a fid ends it.
  const sent = [];
  const ready = new Promise((resolve, reject) => {
    let i = 0;
    const timer = setInterval(() => {
      if (now() - t0 > FAILOVER_DEADLINE_MS) return (clearInterval(timer), reject(new Error("no assign after kill")));
      const m = survivors[i++ % survivors.length];
      const a = { to: m.name, sentMs: now() - t0 };
      sent.push(a);
      assignOnce(m).then(
        () => ((a.okMs = now() - t0), clearInterval(timer), resolve(a.okMs)),
        (err) => ((a.failedMs = now() - t0), (a.error = String(err).slice(0, 120))),
      );
    }, FAILOVER_POLL_MS);
  });
  const [e, readyMs] = await Promise.all([elected.catch(() => undefined), ready.catch(() => undefined)]);
  let allBackMs;
  try {
    await everyServerListed(survivors, FAILOVER_DEADLINE_MS);
    allBackMs = now() - t0;
  } catch {
    // Reported as not back within FAILOVER_DEADLINE_MS, with what the leader lists then.
  }
  const leaderNow = await currentLeader(survivors);
  const listedNow = leaderNow === undefined ? undefined : await listed(leaderNow);
  const steps = leaderNow === undefined ? {} : await readiness(leaderNow);
  // Terms the cluster went through after the first election (a new leader that stepped down, say):
  // the readiness steps above are the last term's.
  const termNow = leaderNow === undefined ? undefined : (await tryJson(`${leaderNow.base}/cluster/raft`))?.term;
  const laterTerms = e?.term === undefined || termNow === undefined ? undefined : termNow - e.term;
  return { electedMs: e?.ms, readyMs, allBackMs, listedNow, killEpochMs, steps, assigns: sent, laterTerms };
}

/** The profiled leader stopped (so that it writes its profile); its top frames over the window. */
async function profileTop(leader, windowStart, windowEnd) {
  await leader.stop("SIGTERM");
  const stoppedAt = now();
  const dir = join(PROFILE_DIR, leader.name);
  const file = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))[0];
  if (file === undefined) return log(`no profile written in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8"));
  // Placed from the profile's end (the exit, a known moment): node starts profiling a variable
  // while after the spawn on a loaded machine.
  const lengthUs = profile.endTime - profile.startTime;
  const from = lengthUs - (stoppedAt - windowStart) * 1000;
  const to = lengthUs - (stoppedAt - windowEnd) * 1000;
  log(`leader profile ${join(dir, file)}, top frames by self time over the steady-state window:`);
  for (const f of topFrames(profile, 25, from, to))
    console.log(`  ${f.percent.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.frame}`);
}

async function startCluster(dir) {
  const taken = new Set();
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push(await freePortPair(taken));
  const peers = ports.map((p) => `127.0.0.1:${p}`).join(",");
  const masters = ports.map((p, i) => new Master(i, p, peers, dir));
  for (const m of masters) m.start();
  const leader = await agreedLeader(masters);
  const raft = await waitFor("the cluster id", START_DEADLINE_MS, async () => {
    const r = await tryJson(`${leader.base}/cluster/raft`);
    return r?.clusterId ? r : undefined;
  });
  return { masters, leader, clusterId: raft.clusterId };
}

function report(r) {
  const goal = (ok) => (ok ? "ok" : "BELOW GOAL");
  const lines = [
    `servers ${SERVERS} x ${VOLUMES} volumes, pulse ${PULSE_SECONDS} s, ${FLEETS} fleet processes`,
    `ramp: every server and volume listed in ${(r.rampMs / 1000).toFixed(1)} s`,
    `leader CPU ${r.steady.cpu.toFixed(1)}% of a core over ${r.steady.wall.toFixed(0)} s ` +
      `(goal < ${GOAL_CPU_PERCENT}%: ${goal(r.steady.cpu < GOAL_CPU_PERCENT)}), RSS ${r.steady.rssMb.toFixed(0)} MB`,
    `every process over the window: ${r.steady.all}`,
    `heartbeats answered ${r.steady.beats.beats} (${(r.steady.beats.beats / r.steady.wall).toFixed(0)}/s); ` +
      `beat -> answer p50 ${fmt(r.steady.beats.rtt.p50)} ms, p99 ${fmt(r.steady.beats.rtt.p99)} ms, ` +
      `max ${fmt(r.steady.beats.rtt.max)} ms`,
  ];
  for (const [name, p] of Object.entries(r.phases)) {
    const err = p.failed === 0 ? "" : `, ${p.failed} failed (first: ${p.firstError})`;
    lines.push(`${name}: ${p.n} in ${p.rate.toFixed(0)}/s, p50 ${fmt(p.p50)} ms, p99 ${fmt(p.p99)} ms${err}`);
  }
  const a1 = r.phases["assign c1"];
  lines.push(`assign p99 goal < ${GOAL_ASSIGN_P99_MS} ms: ${goal(a1.failed === 0 && a1.p99 < GOAL_ASSIGN_P99_MS)}`);
  // Times as in the log lines: seconds since the bench started.
  const changes = leaderChanges.map((c) => `${(c.atMs / 1000).toFixed(1)} s ${c.from} -> ${c.to}`);
  lines.push(`steady window from ${(r.steady.windowStart / 1000).toFixed(1)} s for ${r.steady.wall.toFixed(0)} s`);
  lines.push(`leader changes seen (besides the kill): ${changes.length === 0 ? "none" : changes.join(", ")}`);
  lines.push(`load average ${load()}`);
  console.log(["", "bench-scale results", ...lines.map((l) => `  ${l}`)].join("\n"));
}

async function run(dir, live) {
  log(`starting 3 masters (load ${load()})`);
  const { masters, leader: first, clusterId } = await startCluster(dir);
  live.masters = masters;
  log(`leader ${first.name} ${first.addr}; starting ${SERVERS} simulated servers`);
  live.unwatch = watchLeader(masters);
  const t0 = now();
  live.fleets = startFleets(masters, clusterId, dir);
  watched = [...masters.map((m) => [m.name, m.child.pid]), ...live.fleets.map((f, i) => [`fleet${i}`, f.pid])];
  const leader = await everyServerListed(masters, REGISTER_DEADLINE_MS);
  const rampMs = now() - t0;
  log(`every server listed after ${(rampMs / 1000).toFixed(1)} s; measuring ${MEASURE_SECONDS} s (load ${load()})`);
  const steady = await steadyState(leader, live.fleets);
  const windowEnd = now();
  const phases = {};
  phases["assign c1"] = await phase(1, ASSIGNS, () => assignOnce(leader));
  phases["assign c16"] = await phase(16, ASSIGNS, () => assignOnce(leader));
  phases["lookup c1"] = await phase(1, ASSIGNS, () => lookupOnce(leader));
  const result = { rampMs, steady, phases };
  if (PROFILE_DIR !== "") {
    report(result);
    printResult(result, undefined);
    await profileTop(leader, steady.windowStart, windowEnd);
    return;
  }
  live.unwatch();
  report(result);
  // The leader of this moment: leadership may have moved since the servers were listed.
  const victim = (await currentLeader(masters)) ?? leader;
  log(`kill -9 ${victim.name} (load ${load()})`);
  const f = await failover(masters, victim);
  const never = `not within ${FAILOVER_DEADLINE_MS} ms`;
  const back = f.allBackMs !== undefined ? `${fmt(f.allBackMs)} ms` : `${never} (${f.listedNow?.servers} listed then)`;
  console.log(
    `  kill -9 leader: elected ${f.electedMs === undefined ? never : `${fmt(f.electedMs)} ms`}, first assign ` +
      `${f.readyMs === undefined ? never : `${fmt(f.readyMs)} ms`} (goal < ${GOAL_READY_MS} ms: ` +
      `${f.readyMs !== undefined && f.readyMs < GOAL_READY_MS ? "ok" : "BELOW GOAL"}), all ${SERVERS} back ${back}`,
  );
  const steps = Object.entries(f.steps).map(([k, ms]) => `${k} ${fmt(ms)} ms`);
  console.log(`  the new leader's own times from its election: ${steps.length === 0 ? "none" : steps.join(", ")}`);
  const later = f.laterTerms === undefined ? "unknown" : String(f.laterTerms);
  console.log(`  terms after the first election (spurious elections; the times above are the last term's): ${later}`);
  for (const line of assignsAfterKill(f.assigns)) console.log(`  ${line}`);
  for (const line of failoverBreakdown(await fleetTrace(live.fleets, f.killEpochMs), f.killEpochMs))
    console.log(`  ${line}`);
  console.log(`  load average ${load()}`);
  printResult(result, f);
}

/**
 * The assigns sent after the kill, by master: how many were answered with a fid, failed (the first
 * error) or still open when the first fid came, and when the first successful one had been sent.
 */
function assignsAfterKill(assigns) {
  const lines = [];
  for (const to of [...new Set(assigns.map((a) => a.to))]) {
    const mine = assigns.filter((a) => a.to === to);
    const ok = mine.filter((a) => a.okMs !== undefined);
    const failed = mine.filter((a) => a.failedMs !== undefined);
    const open = mine.length - ok.length - failed.length;
    const first = ok.sort((a, b) => a.okMs - b.okMs)[0];
    const firstOk = first === undefined ? "none" : `sent ${fmt(first.sentMs)} ms, answered ${fmt(first.okMs)} ms`;
    const err =
      failed[0] === undefined
        ? ""
        : ` (first failed: sent ${fmt(failed[0].sentMs)} ms, ` + `${fmt(failed[0].failedMs)} ms: ${failed[0].error})`;
    lines.push(
      `assigns to ${to} after the kill: ${mine.length} sent, ${ok.length} ok (first ${firstOk}), ` +
        `${failed.length} failed${err}, ${open} open`,
    );
  }
  return lines;
}

/**
 * The run's figures as one line, `RESULT {json}`, for scripts that collect benchmarks (bench-all):
 * milliseconds and percent as numbers rounded to 0.01, null for what was not measured (failover in a
 * profiling run, a step that never came) and for a phase's percentiles when some of its requests
 * failed (assignsFailed, lookupsFailed say how many).
 */
function printResult(r, f) {
  const n = (x, scale = 1) =>
    x === undefined || x === null || Number.isNaN(x) ? null : Math.round(x * scale * 100) / 100;
  const p = (name, key) => (r.phases[name]?.failed === 0 ? n(r.phases[name][key]) : null);
  const out = {
    servers: SERVERS,
    volumesPerServer: VOLUMES,
    pulseSeconds: PULSE_SECONDS,
    rampS: n(r.rampMs, 1 / 1000),
    leaderCpuPercent: n(r.steady.cpu),
    leaderRssMb: n(r.steady.rssMb),
    beatP50Ms: n(r.steady.beats.rtt.p50),
    beatP99Ms: n(r.steady.beats.rtt.p99),
    assignC1P50Ms: p("assign c1", "p50"),
    assignC1P99Ms: p("assign c1", "p99"),
    assignC16P99Ms: p("assign c16", "p99"),
    lookupP99Ms: p("lookup c1", "p99"),
    assignsFailed: (r.phases["assign c1"]?.failed ?? 0) + (r.phases["assign c16"]?.failed ?? 0),
    lookupsFailed: r.phases["lookup c1"]?.failed ?? 0,
    electedMs: n(f?.electedMs),
    firstAssignMs: n(f?.readyMs),
    allBackS: n(f?.allBackMs, 1 / 1000),
    newLeaderFirstBeatMs: n(f?.steps.firstBeat),
    newLeaderFileKeysMs: n(f?.steps.fileKeys),
    newLeaderFirstAssignMs: n(f?.steps.firstAssign),
    termsAfterElection: f?.laterTerms ?? null,
    leaderChanges: leaderChanges.length,
    load1: n(loadavg()[0]),
  };
  console.log(`RESULT ${JSON.stringify(out)}`);
}

async function main() {
  const dir = await mkdtemp(join(process.env.BENCH_SCALE_DIR || tmpdir(), "bench-scale-"));
  const live = { masters: [], fleets: [] };
  let code = 0;
  const cleanup = async () => {
    live.unwatch?.();
    await Promise.all(live.fleets.map((f) => (f.connected ? f.send({ cmd: "stop" }) : undefined)));
    await sleep(500);
    for (const f of live.fleets) if (f.exitCode === null && f.signalCode === null) f.kill("SIGKILL");
    await Promise.all(live.masters.map((m) => m.stop()));
    await rm(dir, { recursive: true, force: true });
    await dispatcher.close();
  };
  const overall = setTimeout(async () => {
    log(`BENCH_SCALE_SECONDS (${RUN_SECONDS}) passed: stopping`);
    await cleanup();
    process.exit(1);
  }, RUN_SECONDS * 1000);
  try {
    await run(dir, live);
  } catch (err) {
    console.error(`bench-scale failed: ${err instanceof Error ? err.message : err}`);
    const changes = leaderChanges.map((c) => `${(c.atMs / 1000).toFixed(1)} s ${c.from} -> ${c.to}`);
    console.error(`leader changes seen: ${changes.length}: ${changes.join(", ")}`);
    for (const m of live.masters)
      if (m.tail.length > 0) console.error(`--- ${m.name}\n${m.tail.join("").slice(-2000)}`);
    code = 1;
  }
  clearTimeout(overall);
  await cleanup();
  process.exit(code);
}

await main();
