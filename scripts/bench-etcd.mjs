#!/usr/bin/env node
// etcd 3.4 as the ceiling of `npm run bench:all` (issue 15), measured the way bench-raft.mjs measures
// weed-ts's Raft, so the two figures of one run compare:
//
//   node scripts/bench-etcd.mjs [--concurrency 1,16,64] [--duration-s 5] [--warmup-s 10] [--value-bytes 100]
//        [--kills 0]
//
// Three etcd members on 127.0.0.1 (heartbeat 100 ms, election 1000 ms, pre-vote off: etcd's defaults,
// as in ../shared/anchors/etcd-throughput.sh and etcd-failover.sh) in a temp dir, talked to over
// the HTTP/JSON gateway (/v3/kv/put; the gateway costs JSON, base64 and an in-process gRPC hop).
// 1. Throughput: bench-raft's closed loop: a --warmup-s warm-up at concurrency 16 (as bench-raft's),
//    then for each concurrency N writers to the leader for --duration-s, 100-byte values over 1000 keys, a
//    keep-alive node:http agent, 3 s per request: puts/s, p50/p99 (nearest rank) of acked puts.
// 2. Failover, --kills times: kill -9 the leader; from the kill a put every 20 ms alternating between
//    the survivors (3 s timeout each); the sample is the time to the first acknowledged one (as
//    etcd-failover.sh). The member is restarted and all three must be healthy before the next round.
// Prints `RESULT {json}` last. Kills only the etcd processes it started (by pid), removes its temp dir.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { percentile } from "./bench-table.mjs";

// Bounds (ms), the same as bench-raft's where it has one.
const PROBE_INTERVAL_MS = 20; // failover probe: one put per interval, as both failover benches
const REQUEST_TIMEOUT_MS = 3_000; // every put, as bench-raft's PROBE_TIMEOUT_MS
const STATUS_TIMEOUT_MS = 1_000; // /health and /v3/maintenance/status
const START_DEADLINE_MS = 60_000; // three members healthy with a leader (etcd-failover.sh waits 60 s)
const FAILOVER_DEADLINE_MS = 30_000; // kill -> first acked put (etcd-failover.sh's MAX_WAIT_MS)
const SETTLE_MS = 1_000; // after a restarted member is healthy, as etcd-failover.sh's SETTLE_S
const STOP_WAIT_MS = 5_000; // SIGKILL -> exit
const POLL_MS = 100;
const WARMUP_CONCURRENCY = 16;
const KEYS = 1000; // bench-raft's key space
const HEARTBEAT_MS = 100; // etcd's default
const ELECTION_MS = 1000; // etcd's default

const { values: flags } = parseArgs({
  options: {
    concurrency: { type: "string", default: "1,16,64" },
    "duration-s": { type: "string", default: "5" },
    "warmup-s": { type: "string", default: "10" },
    "value-bytes": { type: "string", default: "100" },
    kills: { type: "string", default: "0" },
  },
  strict: true,
});
function int(name, text, min) {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`bench-etcd: --${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}
const concurrencies = flags.concurrency
  .split(",")
  .filter(Boolean)
  .map((c) => int("concurrency", c, 1));
const durationS = int("duration-s", flags["duration-s"], 1);
const warmupS = int("warmup-s", flags["warmup-s"], 0);
const valueBytes = int("value-bytes", flags["value-bytes"], 1);
const kills = int("kills", flags.kills, 0);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64 = (s) => Buffer.from(s).toString("base64");
const value = b64(Buffer.alloc(valueBytes, 0x61));

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Members

class Member {
  constructor(i, clientPort, peerPort, cluster, root) {
    this.name = `e${i + 1}`;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.cluster = cluster;
    this.root = root;
    this.child = null;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  }

  start(state) {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const client = `http://127.0.0.1:${this.clientPort}`;
    const args = ["--name", this.name, "--data-dir", join(this.root, this.name)];
    args.push("--listen-client-urls", client, "--advertise-client-urls", client);
    args.push("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer);
    args.push("--initial-cluster", this.cluster, "--initial-cluster-token", `bench-all-${process.pid}`);
    args.push("--initial-cluster-state", state, "--heartbeat-interval", String(HEARTBEAT_MS));
    args.push("--election-timeout", String(ELECTION_MS), "--pre-vote=false");
    args.push("--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn");
    const log = createWriteStream(join(this.root, `${this.name}.log`), { flags: "a" });
    this.child = spawn("etcd", args, { stdio: ["ignore", "ignore", "pipe"] });
    this.child.stderr.pipe(log);
    this.exited = new Promise((r) => this.child.once("exit", r));
  }

  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill() {
    if (!this.alive) return;
    this.child.kill("SIGKILL");
    await Promise.race([this.exited, sleep(STOP_WAIT_MS)]);
  }

  /** This member's id and the leader's id it knows (uint64 strings), or null. */
  async status() {
    const r = await call(this, "/v3/maintenance/status", "{}", STATUS_TIMEOUT_MS).catch(() => null);
    if (r?.status !== 200) return null;
    const j = JSON.parse(r.body);
    return { id: j.header?.member_id, leader: j.leader };
  }

  async healthy() {
    const r = await call(this, "/health", null, STATUS_TIMEOUT_MS).catch(() => null);
    return r?.status === 200 && /"health":\s*"true"/.test(r.body);
  }
}

/** One request through the member's keep-alive agent: POST with a body, GET without. */
function call(member, path, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const headers = body === null ? {} : { "content-type": "application/json", "content-length": body.length };
    const method = body === null ? "GET" : "POST";
    const options = { host: "127.0.0.1", port: member.clientPort, method, path, agent: member.agent, headers };
    const req = http.request({ ...options, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

/** A put of `key`; true when etcd acknowledged it. */
async function put(member, key, timeoutMs = REQUEST_TIMEOUT_MS) {
  const body = Buffer.from(`{"key":"${b64(key)}","value":"${value}"}`);
  const r = await call(member, "/v3/kv/put", body, timeoutMs);
  return r.status === 200 && r.body.includes('"header"');
}

async function makeMembers(root) {
  const ports = [];
  while (ports.length < 6) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const cluster = [0, 1, 2].map((i) => `e${i + 1}=http://127.0.0.1:${ports[3 + i]}`).join(",");
  return [0, 1, 2].map((i) => new Member(i, ports[i], ports[3 + i], cluster, root));
}

/** The leader every running member names, once all running members are healthy. */
async function waitLeader(members, deadlineMs = START_DEADLINE_MS) {
  const deadline = performance.now() + deadlineMs;
  while (performance.now() < deadline) {
    const running = members.filter((m) => m.alive);
    const health = await Promise.all(running.map((m) => m.healthy()));
    const ss = await Promise.all(running.map((m) => m.status()));
    const leaderId = ss[0]?.leader;
    if (health.every(Boolean) && leaderId !== undefined && ss.every((s) => s !== null && s.leader === leaderId)) {
      const leader = running.find((_, i) => ss[i].id === leaderId);
      if (leader !== undefined) return leader;
    }
    await sleep(POLL_MS);
  }
  throw new Error(`etcd: no healthy cluster with an agreed leader within ${deadlineMs} ms`);
}

// ---------------------------------------------------------------------------------------------
// Load

/** bench-raft's closed loop: `concurrency` writers against `member` for `ms`. */
async function closedLoop(member, concurrency, ms) {
  const lat = [];
  let errors = 0;
  let seq = 0;
  const end = performance.now() + ms;
  const worker = async (w) => {
    while (performance.now() < end) {
      const t = performance.now();
      const ok = await put(member, `k${(w * 7919 + seq++) % KEYS}`).catch(() => false);
      if (ok) lat.push(performance.now() - t);
      else errors++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  const p = (q) => +percentile(lat, q).toFixed(3);
  return { concurrency, ops: lat.length, perSec: +(lat.length / secs).toFixed(1), p50: p(50), p99: p(99), errors };
}

/** kill -9 the leader; ms until a survivor acknowledges a put; then the member rejoins. */
async function failoverOnce(members, round) {
  const leader = await waitLeader(members);
  const survivors = members.filter((m) => m !== leader);
  const t0 = performance.now();
  leader.child.kill("SIGKILL");
  let done;
  let attempts = 0;
  let maxGapMs = 0;
  let last = t0;
  const inflight = new Set();
  while (done === undefined && performance.now() < t0 + FAILOVER_DEADLINE_MS) {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    const target = survivors[attempts++ % survivors.length];
    const p = put(target, `failover/${round}/${attempts}`)
      .then((ok) => {
        if (ok && done === undefined) done = performance.now() - t0;
      })
      .catch(() => {})
      .finally(() => inflight.delete(p));
    inflight.add(p);
    await sleep(PROBE_INTERVAL_MS);
  }
  await Promise.race([leader.exited, sleep(STOP_WAIT_MS)]);
  await Promise.allSettled([...inflight]);
  if (done === undefined) throw new Error(`etcd round ${round}: no put acknowledged within ${FAILOVER_DEADLINE_MS} ms`);
  leader.start("existing");
  await waitLeader(members);
  await sleep(SETTLE_MS);
  return { ms: done, maxGapMs, attempts };
}

// ---------------------------------------------------------------------------------------------

async function measure(members, summary) {
  let leader = await waitLeader(members);
  if (concurrencies.length > 0) await closedLoop(leader, WARMUP_CONCURRENCY, warmupS * 1000);
  for (const c of concurrencies) {
    leader = await waitLeader(members);
    const r = await closedLoop(leader, c, durationS * 1000);
    summary.throughput.push(r);
    console.log(
      `etcd c=${String(c).padStart(3)}  ${r.perSec.toFixed(0).padStart(6)} puts/s  p50 ${r.p50} ms  p99 ${r.p99} ms`,
    );
  }
  const samples = [];
  for (let round = 1; round <= kills; round++) {
    const s = await failoverOnce(members, round);
    samples.push(s.ms);
    const starved = s.maxGapMs > 10 * PROBE_INTERVAL_MS ? ` (probe starved: ${s.maxGapMs.toFixed(0)} ms gap)` : "";
    console.log(`etcd kill ${round}: first acked put after ${s.ms.toFixed(1)} ms${starved}`);
  }
  if (samples.length > 0) {
    const r1 = (x) => +x.toFixed(1);
    const [median, p90, max] = [50, 90, 100].map((q) => r1(percentile(samples, q)));
    summary.failover = { samples: samples.map(r1), median, p90, max };
  }
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), "bench-etcd-"));
  const members = await makeMembers(root);
  const cleanup = async () => {
    for (const m of members) await m.kill();
    for (const m of members) m.agent.destroy();
    await rm(root, { recursive: true, force: true });
  };
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => void cleanup().then(() => process.exit(130)));
  const summary = { loadavgStart: loadavg().map((x) => +x.toFixed(2)), throughput: [], failover: null };
  try {
    console.log(`bench-etcd: 3 etcd members on 127.0.0.1, data in ${root}; load average ${summary.loadavgStart}`);
    for (const m of members) m.start("new");
    await measure(members, summary);
    summary.loadavgEnd = loadavg().map((x) => +x.toFixed(2));
    console.log(`RESULT ${JSON.stringify(summary)}`);
  } catch (err) {
    console.error(`bench-etcd: ${err?.stack ?? err}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
