#!/usr/bin/env node
// The floor of a replicated, fsync'd commit on this machine in Node, for bench-raft's closed loop
// (issue 15): what a 3-node Raft with nothing but the I/O would cost.
//
//   node scripts/bench-raft-floor.mjs [--concurrency 1,16,64] [--duration-s 5] [--warmup-s 3]
//
// Three processes on 127.0.0.1, as bench-raft's kv-nodes: a "leader" answers PUT /kv/<key> over
// node:http. The requests that arrive in one turn of its event loop are one batch (the group
// commit bench-raft's runtime does): the batch goes at once to both "followers" over plain TCP as
// one length-prefixed frame, and is appended to the leader's own file with fs.write +
// fs.fdatasync (the libuv thread pool, as LevelDB's writes), one write at a time, so the batches
// that arrive during a write share the next one. Each follower does the same with the frames it
// receives and acknowledges each write's frames once it is synced. A batch is answered once two of
// the three have it durable, batches in order. No Raft, no gRPC, no LevelDB, no encoding: the
// difference to bench-raft at the same concurrency is what those cost.
// Per concurrency: commits/s, p50/p99, the CPU per commit of the leader and of both followers
// together; then `RESULT {"throughput":[...]}`. Kills only the processes it started, removes its
// temp dir.
import { fork } from "node:child_process";
import { fdatasync, mkdtempSync, openSync, rmSync, write } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuTimes } from "./proc-cpu.mjs";

const VALUE_BYTES = 100; // bench-raft's default value size
const KEYS = 1000; // bench-raft's key space
const START_DEADLINE_MS = 10_000; // the three processes listening
const REQUEST_TIMEOUT_MS = 3_000; // bench-raft's per-request timeout
const FRAME_HEADER_BYTES = 4; // u32 LE payload length

const [role, ...rest] = process.argv.slice(2);
const syncAppend = (fd, buf) =>
  new Promise((resolve, reject) =>
    write(fd, buf, (err) => (err ? reject(err) : fdatasync(fd, (err2) => (err2 ? reject(err2) : resolve())))),
  );

if (role === "--follower") runFollower(rest[0]);
else if (role === "--leader") runLeader(rest[0], rest.slice(1));
else await main();

/** Appends the frames it receives, one synced write at a time; one ack byte per frame written. */
function runFollower(file) {
  const fd = openSync(file, "w");
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let frames = [];
    let writing = false;
    const flush = () => {
      if (writing || frames.length === 0) return;
      writing = true;
      const n = frames.length;
      const data = Buffer.concat(frames);
      frames = [];
      void syncAppend(fd, data).then(() => {
        writing = false;
        sock.write(Buffer.alloc(n));
        flush();
      });
    };
    sock.on("data", (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= FRAME_HEADER_BYTES && buf.length >= FRAME_HEADER_BYTES + buf.readUInt32LE(0)) {
        const end = FRAME_HEADER_BYTES + buf.readUInt32LE(0);
        frames.push(buf.subarray(FRAME_HEADER_BYTES, end));
        buf = buf.subarray(end);
      }
      flush();
    });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
}

/** Batches a turn's requests, replicates and writes them, answers each batch once 2 of 3 hold it. */
function runLeader(file, ports) {
  const fd = openSync(file, "w");
  const peers = ports.map((p) => net.connect(Number(p), "127.0.0.1").setNoDelay(true));
  const acked = peers.map(() => 0); // frames each follower has synced
  const batches = []; // not yet answered, in order: { seq, items, payload, own }
  let queued = []; // this turn's requests: { value, res }
  let seq = 0;
  let unwritten = []; // batches not yet in the leader's own file
  let writing = false;
  const commit = () => {
    for (;;) {
      const b = batches[0];
      if (b === undefined || (b.own ? 1 : 0) + acked.filter((n) => n > b.seq).length < 2) return;
      batches.shift();
      for (const { res } of b.items) res.end('{"index":1}');
    }
  };
  const writeOwn = () => {
    if (writing || unwritten.length === 0) return;
    writing = true;
    const mine = unwritten;
    unwritten = [];
    void syncAppend(fd, Buffer.concat(mine.map((b) => b.payload))).then(() => {
      writing = false;
      for (const b of mine) b.own = true;
      commit();
      writeOwn();
    });
  };
  const propose = () => {
    const b = { seq: seq++, items: queued, payload: Buffer.concat(queued.map((x) => x.value)), own: false };
    queued = [];
    batches.push(b);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(b.payload.length);
    for (const p of peers) p.write(Buffer.concat([header, b.payload]));
    unwritten.push(b);
    writeOwn();
  };
  peers.forEach((p, i) => p.on("data", (b) => ((acked[i] += b.length), commit())));
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      queued.push({ value: Buffer.concat(chunks), res });
      if (queued.length === 1) setImmediate(propose);
    });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
}

function started(child) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("a floor process did not start")), START_DEADLINE_MS);
    child.once("message", (m) => (clearTimeout(timer), resolve(m.port)));
    child.once("exit", (code) => reject(new Error(`a floor process exited with ${code}`)));
  });
}

function request(agent, port, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "PUT", path, agent, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        res.on("data", () => {});
        res.on("end", resolve);
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

/** bench-raft's closed loop: `concurrency` writers for `ms`; the latencies (ms) of the answered PUTs. */
async function closedLoop(agent, port, concurrency, ms) {
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  const lat = [];
  const end = performance.now() + ms;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await request(agent, port, `/kv/k${n++ % KEYS}`, value);
      lat.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return lat;
}

/** user+system CPU of `pid` so far, in microseconds (NaN off Linux). */
function cpuMicros(pid) {
  const { user, sys } = cpuTimes(pid);
  return (user + sys) * 1e6;
}

function flagsOrExit() {
  const { values } = parseArgs({
    options: {
      concurrency: { type: "string", default: "1" },
      "duration-s": { type: "string", default: "5" },
      "warmup-s": { type: "string", default: "3" },
    },
  });
  const durationS = Number(values["duration-s"]);
  const warmupS = Number(values["warmup-s"]);
  const concurrencies = values.concurrency.split(",").map(Number);
  if (!(durationS > 0) || !(warmupS >= 0) || !concurrencies.every((c) => Number.isSafeInteger(c) && c >= 1)) {
    console.error("bench-raft-floor: --duration-s must be > 0, --warmup-s >= 0, --concurrency integers >= 1");
    process.exit(2);
  }
  return { durationS, warmupS, concurrencies };
}

/** One closed loop at `c`: commits/s, p50/p99 and the CPU per commit of the leader and both followers. */
async function measure(port, pids, c, durationS) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: c });
  try {
    const cpu0 = pids.map(cpuMicros);
    const lat = await closedLoop(agent, port, c, durationS * 1000);
    const used = pids.map((pid, i) => cpuMicros(pid) - cpu0[i]);
    lat.sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)];
    const perCommit = (us) => (Number.isFinite(us) && lat.length > 0 ? us / lat.length : null);
    return {
      concurrency: c,
      perSec: lat.length / durationS,
      p50: pct(50),
      p99: pct(99),
      cpuLeaderUs: perCommit(used[0]),
      cpuFollowersUs: perCommit(used[1] + used[2]),
    };
  } finally {
    agent.destroy();
  }
}

async function main() {
  const { durationS, warmupS, concurrencies } = flagsOrExit();
  const dir = mkdtempSync(join(tmpdir(), "bench-raft-floor-"));
  const self = import.meta.filename;
  const children = [];
  try {
    const followers = [1, 2].map((i) => fork(self, ["--follower", join(dir, `follower-${i}.log`)]));
    children.push(...followers);
    const ports = await Promise.all(followers.map(started));
    const leader = fork(self, ["--leader", join(dir, "leader.log"), ...ports.map(String)]);
    children.push(leader);
    const port = await started(leader);
    const pids = [leader.pid, ...followers.map((f) => f.pid)];
    if (warmupS > 0) await measure(port, pids, concurrencies[0], warmupS);
    const throughput = [];
    for (const c of concurrencies) {
      const r = await measure(port, pids, c, durationS);
      throughput.push(r);
      const us = (x) => (x === null ? "?" : x.toFixed(0));
      console.log(
        `floor c=${String(c).padStart(3)}  ${r.perSec.toFixed(0).padStart(6)} commits/s  p50 ${r.p50.toFixed(2)} ms  ` +
          `p99 ${r.p99.toFixed(2)} ms  cpu us/commit leader ${us(r.cpuLeaderUs)} followers ${us(r.cpuFollowersUs)}`,
      );
    }
    console.log(`RESULT ${JSON.stringify({ throughput })}`);
  } finally {
    for (const c of children) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
