#!/usr/bin/env node
// Raft benchmark: three kv-node processes (src/raft/runtime/kv-example) on loopback, gRPC between
// them, LevelDB with fsync on. Needs a build (runs dist/):  npx tsc -p tsconfig.json
//
//   node scripts/bench-raft.mjs [--duration-s 5] [--warmup-s 10] [--concurrency 1,16,64] [--kills 10]
//        [--steady-s 60] [--tick-ms N --election-ticks N --heartbeat-ticks N] [--value-bytes 100]
//
// 1. Throughput: closed loop of PUT /kv/<key> (100-byte values, 1000 keys) sent to the leader with
//    N requests in flight (a keep-alive node:http agent, as the etcd anchor measurements used),
//    for --duration-s each after a --warmup-s warm-up at concurrency 16: committed proposals/s,
//    p50/p99 commit latency (a PUT answers once its entry is committed and applied), and the CPU
//    (user+system, /proc) of the leader and of the followers per commit.
// 2. Failover, --kills times: kill -9 the leader; from the kill, a probe starts a PUT every 20 ms
//    alternating between the survivors (each with a 3 s timeout); the sample is the time to the
//    first acknowledged PUT. The killed node is restarted and must be a caught-up follower before
//    the next round. Median, p90 and max (nearest-rank), as in shared/anchors/etcd-failover.sh.
// 3. Steady load for --steady-s: 16 writers against the leader while /status of every node is
//    polled every 100 ms; any change of leader or term counts as a (spurious) leader change.
// Listens on 127.0.0.1 only, kills only the processes it started, removes its temp dir.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cpuTimes } from "./proc-cpu.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const KV_NODE = join(ROOT, "dist/raft/runtime/kv-example/kv-node.js");
const PROBE_INTERVAL_MS = 20;
const PROBE_TIMEOUT_MS = 3_000;
const FAILOVER_DEADLINE_MS = 15_000;
const HEALTH_DEADLINE_MS = 20_000;
const KEYS = 1000;
const WARMUP_CONCURRENCY = 16;
// BENCH_RAFT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p": node flags for the three kv-nodes (node
// refuses --cpu-prof in NODE_OPTIONS); the nodes are then stopped with SIGTERM at the end, so profiles get written.
const nodeArgs = (process.env.BENCH_RAFT_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);

const { values: flags } = parseArgs({
  options: {
    "duration-s": { type: "string", default: "5" },
    "warmup-s": { type: "string", default: "10" },
    concurrency: { type: "string", default: "1,16,64" },
    kills: { type: "string", default: "10" },
    "steady-s": { type: "string", default: "60" },
    "steady-concurrency": { type: "string", default: "16" },
    "tick-ms": { type: "string" },
    "election-ticks": { type: "string" },
    "heartbeat-ticks": { type: "string" },
    "value-bytes": { type: "string", default: "100" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(
    "usage: bench-raft.mjs [--duration-s 5] [--warmup-s 10] [--concurrency 1,16,64] [--kills 10] [--steady-s 60]\n" +
      "         [--steady-concurrency 16] [--tick-ms N] [--election-ticks N] [--heartbeat-ticks N]\n" +
      "         [--value-bytes 100] [--keep]",
  );
  process.exit(0);
}

function int(name, text, min = 0) {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`bench-raft: --${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const durationS = int("duration-s", flags["duration-s"], 1);
const warmupS = int("warmup-s", flags["warmup-s"], 0);
const concurrencies = flags.concurrency.split(",").map((c) => int("concurrency", c, 1));
const kills = int("kills", flags.kills);
const steadyS = int("steady-s", flags["steady-s"]);
const steadyConcurrency = int("steady-concurrency", flags["steady-concurrency"], 1);
const valueBytes = int("value-bytes", flags["value-bytes"], 1);
const timingArgs = [];
for (const f of ["tick-ms", "election-ticks", "heartbeat-ticks"])
  if (flags[f] !== undefined) timingArgs.push(`--${f}`, String(int(f, flags[f], 1)));

if (!existsSync(KV_NODE)) {
  console.error(`bench-raft: ${KV_NODE} not found; build first: npx tsc -p tsconfig.json`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) =>
  sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const fmt = (ms) => (Number.isNaN(ms) ? "-" : ms >= 100 ? ms.toFixed(0) : ms.toFixed(2));

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => res(a.port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The three processes

class Node {
  constructor(i, raftPort, httpPort, peers, dir) {
    this.i = i;
    this.id = `127.0.0.1:${raftPort}`;
    this.http = `http://127.0.0.1:${httpPort}`;
    this.args = [
      ...nodeArgs,
      KV_NODE,
      "--id",
      this.id,
      "--peers",
      peers,
      "--dir",
      dir,
      "--http",
      `127.0.0.1:${httpPort}`,
      "--log-level",
      "warn",
      ...timingArgs,
    ];
    this.port = httpPort;
    this.child = null;
    this.logTail = [];
    this.agent = null;
  }

  start() {
    this.child = spawn(process.execPath, this.args, { stdio: ["ignore", "ignore", "pipe"] });
    this.child.stderr.on("data", (b) => {
      this.logTail.push(b.toString());
      if (this.logTail.length > 200) this.logTail.splice(0, 100);
    });
    this.exited = new Promise((r) => this.child.once("exit", r));
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  }

  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal = "SIGKILL") {
    if (!this.alive) return;
    this.child.kill(signal);
    await this.exited;
  }

  closeAgent() {
    this.agent?.destroy();
    this.agent = null;
  }

  async status() {
    const r = await call(this, "GET", "/status", null, 1000);
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    return JSON.parse(r.body);
  }
}

async function statuses(nodes) {
  return Promise.all(nodes.map((n) => (n.alive ? n.status().catch(() => null) : null)));
}

/** The leader all running nodes agree on, once it has committed in its term. */
async function waitLeader(nodes, deadlineMs = HEALTH_DEADLINE_MS) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const ss = await statuses(nodes);
    const running = ss.filter((s) => s !== null);
    const leaders = running.filter((s) => s.role === "leader");
    if (
      running.length === nodes.filter((n) => n.alive).length &&
      leaders.length === 1 &&
      running.every((s) => s.leader === leaders[0].id)
    ) {
      return nodes.find((n) => n.id === leaders[0].id);
    }
    await sleep(50);
  }
  throw new Error("no agreed leader within the deadline");
}

/** Every node running, one leader, and every member caught up with the leader's commit index. */
async function waitHealthy(nodes) {
  const deadline = Date.now() + HEALTH_DEADLINE_MS;
  while (Date.now() < deadline) {
    const ss = await statuses(nodes);
    const leader = ss.find((s) => s?.role === "leader");
    if (leader && ss.every((s) => s !== null && s.leader === leader.id && s.term === leader.term)) {
      const caughtUp = leader.members.every((m) => m.id === leader.id || (m.match ?? 0) >= leader.commit);
      if (caughtUp) return;
    }
    await sleep(50);
  }
  throw new Error(`cluster not healthy within ${HEALTH_DEADLINE_MS} ms`);
}

// ---------------------------------------------------------------------------------------------
// Load

const value = Buffer.alloc(valueBytes, 0x61);

/** One HTTP request through the node's keep-alive agent, bounded by `timeoutMs`. */
function call(node, method, path, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const headers = body === null ? {} : { "content-length": body.length };
    const req = http.request(
      { host: "127.0.0.1", port: node.port, method, path, agent: node.agent, headers, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

async function put(node, key, timeoutMs = PROBE_TIMEOUT_MS) {
  return (await call(node, "PUT", `/kv/${key}`, value, timeoutMs)).status;
}

/** Closed loop: `concurrency` writers against `node` for `ms`; latencies of acknowledged PUTs. */
async function closedLoop(node, concurrency, ms) {
  const lat = [];
  let errors = 0;
  const end = performance.now() + ms;
  let seq = 0;
  const worker = async (w) => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const code = await put(node, `k${(w * 7919 + seq++) % KEYS}`);
        if (code === 200) lat.push(performance.now() - t);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { ops: lat.length, perSec: lat.length / secs, p50: pct(lat, 50), p99: pct(lat, 99), errors };
}

/** kill -9 the leader; time until a survivor acknowledges a PUT. */
async function failoverOnce(nodes, round) {
  const leader = await waitLeader(nodes);
  const survivors = nodes.filter((n) => n !== leader);
  const before = await leader.status();
  const t0 = performance.now();
  leader.child.kill("SIGKILL");
  let done = null;
  let attempts = 0;
  let maxGap = 0;
  let last = t0;
  const inflight = new Set();
  const deadline = t0 + FAILOVER_DEADLINE_MS;
  while (done === null && performance.now() < deadline) {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    const target = survivors[attempts++ % survivors.length];
    const p = put(target, `failover-${round}-${attempts}`)
      .then((code) => {
        if (code === 200 && done === null) done = { ms: performance.now() - t0, via: target };
      })
      .catch(() => {})
      .finally(() => inflight.delete(p));
    inflight.add(p);
    await sleep(PROBE_INTERVAL_MS);
  }
  await leader.exited;
  await Promise.allSettled([...inflight]);
  if (done === null) throw new Error(`round ${round}: no write acknowledged within ${FAILOVER_DEADLINE_MS} ms`);
  const after = await done.via.status().catch(() => null);
  // Restart the killed node and wait until it is a caught-up follower.
  leader.closeAgent();
  leader.start();
  await waitHealthy(nodes);
  return {
    ms: done.ms,
    termBefore: before.term,
    termAfter: after?.term ?? NaN,
    newLeader: after?.leader ?? "?",
    maxGap,
    attempts,
  };
}

/** Steady load while watching every node's view of leader and term. */
async function steady(nodes, seconds, concurrency) {
  const leader = await waitLeader(nodes);
  const first = await leader.status();
  let changes = 0;
  let lastLeader = first.leader;
  let lastTerm = first.term;
  const events = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const ss = await statuses(nodes);
      for (const s of ss) {
        if (s === null) continue;
        if (s.term !== lastTerm || (s.leader !== null && s.leader !== lastLeader)) {
          changes++;
          events.push(`term ${lastTerm}->${s.term} leader ${lastLeader}->${s.leader} seen by ${s.id}`);
          lastTerm = Math.max(lastTerm, s.term);
          if (s.leader !== null) lastLeader = s.leader;
        }
      }
      await sleep(100);
    }
  })();
  const load = await closedLoop(leader, concurrency, seconds * 1000);
  watching = false;
  await watcher;
  return { changes, events, load };
}

// ---------------------------------------------------------------------------------------------

/** user+system CPU of `pid` so far, in microseconds (null off Linux). */
function cpuMicros(pid) {
  const { user, sys } = cpuTimes(pid);
  return Number.isNaN(user + sys) ? null : (user + sys) * 1e6;
}

async function throughputPhase(nodes, summary) {
  console.log("\n== throughput (PUT to the leader, 100 B values) ==");
  console.log("   (cpu: user+system of the leader, and of both followers together, per commit;");
  console.log("    rx: Raft messages/batches the leader and one follower received per commit)");
  for (const c of concurrencies) {
    const leader = await waitLeader(nodes);
    const followers = nodes.filter((n) => n !== leader && n.alive);
    const cpu = () => [cpuMicros(leader.child.pid), ...followers.map((n) => cpuMicros(n.child.pid))];
    const before = cpu();
    const rxBefore = await received([leader, followers[0]]);
    const r = await closedLoop(leader, c, durationS * 1000);
    const after = cpu();
    const rxAfter = await received([leader, followers[0]]);
    const rx = rxAfter.map((a, i) => perCommitRx(a, rxBefore[i], r.ops));
    const used = after.map((a, i) => (a === null || before[i] === null ? null : a - before[i]));
    const perCommit = (us) => (us === null || r.ops === 0 ? null : us / r.ops);
    const cpuLeader = perCommit(used[0]);
    const cpuFollowers = used.slice(1).includes(null) ? null : perCommit(used.slice(1).reduce((a, b) => a + b, 0));
    summary.throughput.push({ concurrency: c, ...r, cpuLeaderUs: cpuLeader, cpuFollowersUs: cpuFollowers, rx });
    const latency = `p50 ${fmt(r.p50)} ms  p99 ${fmt(r.p99)} ms`;
    const us = (x) => (x === null ? "?" : x.toFixed(0));
    console.log(
      `c=${String(c).padStart(3)}  ${r.perSec.toFixed(0).padStart(6)} commits/s  ${latency}  errors ${r.errors}` +
        `  cpu us/commit leader ${us(cpuLeader)} followers ${us(cpuFollowers)}` +
        `  rx leader ${rx[0] ?? "?"} follower ${rx[1] ?? "?"}`,
    );
  }
}

/** Each node's transport counters: Raft messages and batches (gRPC frames) received so far. */
async function received(nodes) {
  const ss = await statuses(nodes);
  return ss.map((s) => (s === null ? null : [s.transport.receivedMessages, s.transport.receivedBatches]));
}

function perCommitRx(after, before, ops) {
  if (after === null || before === null || ops === 0) return null;
  return `${((after[0] - before[0]) / ops).toFixed(2)}/${((after[1] - before[1]) / ops).toFixed(2)}`;
}

async function failoverPhase(nodes, summary) {
  console.log(`\n== failover: kill -9 the leader, time to the next acknowledged write (${kills} rounds) ==`);
  const samples = [];
  for (let round = 1; round <= kills; round++) {
    const s = await failoverOnce(nodes, round);
    samples.push(s);
    const starved = s.maxGap > 200 ? `  (probe starved: ${s.maxGap.toFixed(0)} ms gap)` : "";
    const terms = `term ${s.termBefore} -> ${s.termAfter}`;
    console.log(
      `kill ${String(round).padStart(2)}: ${fmt(s.ms).padStart(6)} ms  ${terms}  new leader ${s.newLeader}${starved}`,
    );
  }
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  const f = { samples: samples.map((s) => +s.ms.toFixed(1)), median: pct(sorted, 50), p90: pct(sorted, 90) };
  summary.failover = { ...f, max: sorted[sorted.length - 1] };
  console.log(`failover: median ${fmt(f.median)} ms  p90 ${fmt(f.p90)} ms  max ${fmt(summary.failover.max)} ms`);
}

async function steadyPhase(nodes, summary) {
  console.log(`\n== steady load: ${steadyConcurrency} writers for ${steadyS} s, watching for leader changes ==`);
  const s = await steady(nodes, steadyS, steadyConcurrency);
  summary.steady = {
    seconds: steadyS,
    leaderChanges: s.changes,
    events: s.events,
    perSec: s.load.perSec,
    errors: s.load.errors,
  };
  const events = s.events.length ? `: ${s.events.join("; ")}` : "";
  console.log(
    `steady: ${s.load.perSec.toFixed(0)} commits/s, errors ${s.load.errors}, leader changes ${s.changes}${events}`,
  );
}

/** Three nodes on free ports (Raft and HTTP each), data under `root`; not started. */
async function makeNodes(root) {
  const ports = [];
  while (ports.length < 6) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const peers = [0, 1, 2].map((i) => `127.0.0.1:${ports[i]}`).join(",");
  return [0, 1, 2].map((i) => new Node(i, ports[i], ports[3 + i], peers, join(root, `n${i + 1}`)));
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), "bench-raft-"));
  const nodes = await makeNodes(root);
  const cleanup = async () => {
    // SIGTERM when profiling: node writes --cpu-prof profiles only on a clean exit.
    const signal = nodeArgs.length > 0 ? "SIGTERM" : "SIGKILL";
    for (const n of nodes) await n.kill(signal).catch(() => {});
    for (const n of nodes) n.closeAgent();
    if (!flags.keep) await rm(root, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    void cleanup().then(() => process.exit(130));
  });
  const summary = { loadavgStart: loadavg().map((x) => +x.toFixed(2)), throughput: [], failover: null, steady: null };
  try {
    console.log(
      `bench-raft: 3 kv-node processes, data in ${root}, fsync on; load average ${summary.loadavgStart.join(" ")}`,
    );
    console.log(
      `timing: ${timingArgs.length === 0 ? "defaults (see src/raft/runtime/TUNING.md)" : timingArgs.join(" ")}`,
    );
    for (const n of nodes) n.start();
    const leader = await waitLeader(nodes);
    // V8 compiles a function with its optimizing tier only after thousands of calls: a 1 s warm-up
    // left most of the per-commit path in the baseline tier, and c1 measured ~2x the CPU per commit
    // it settles at (a master runs for days). etcd (Go) needs none; bench-etcd warms up the same.
    await closedLoop(leader, WARMUP_CONCURRENCY, warmupS * 1000);
    await throughputPhase(nodes, summary);
    if (kills > 0) await failoverPhase(nodes, summary);
    if (steadyS > 0) await steadyPhase(nodes, summary);
    summary.loadavgEnd = loadavg().map((x) => +x.toFixed(2));
    const noisy = "(other processes on these 2 cores make the numbers noisy)";
    console.log(`\nload average at the end: ${summary.loadavgEnd.join(" ")} ${noisy}`);
    console.log(`RESULT ${JSON.stringify(summary)}`);
  } catch (err) {
    console.error(`bench-raft: ${err.stack ?? err}`);
    for (const n of nodes) console.error(`--- ${n.id} log tail ---\n${n.logTail.join("").slice(-3000)}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
