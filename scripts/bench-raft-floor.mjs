#!/usr/bin/env node
// The floor of one replicated, fsync'd commit on this machine in Node, for bench-raft's closed loop
// at concurrency 1: what a 3-node Raft with nothing but the I/O would cost (issue 15).
//
//   node scripts/bench-raft-floor.mjs [--duration-s 5] [--warmup-s 3]
//
// Three processes on 127.0.0.1, as bench-raft's kv-nodes: a "leader" answers PUT /kv/<key> over
// node:http; per request it sends the 100-byte value to both "followers" over plain TCP and
// appends it to its own file with fs.write + fs.fdatasync (the libuv thread pool, as LevelDB's
// writes); each follower appends and fdatasyncs the same way, then answers 4 bytes; the leader
// answers the client once its own write and one follower's are done (a quorum of 3). No Raft, no
// gRPC, no LevelDB, no encoding: the difference to bench-raft's c1 is what those cost.
// Prints commits/s, p50/p99 and the leader's CPU per commit, then `RESULT {json}`. Kills only the
// processes it started, removes its temp dir.
import { fork } from "node:child_process";
import { fdatasync, mkdtempSync, openSync, rmSync, write } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const VALUE_BYTES = 100; // bench-raft's default value size
const ACK = Buffer.from("ack\n");
const START_DEADLINE_MS = 10_000; // the three processes listening
const REQUEST_TIMEOUT_MS = 3_000; // bench-raft's per-request timeout

const [role, ...rest] = process.argv.slice(2);
const syncAppend = (fd, buf) =>
  new Promise((resolve, reject) =>
    write(fd, buf, (err) => (err ? reject(err) : fdatasync(fd, (err2) => (err2 ? reject(err2) : resolve())))),
  );

if (role === "--follower") {
  const [file] = rest;
  const fd = openSync(file, "w");
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    // One value per request and one request in flight (concurrency 1): a chunk is one value.
    sock.on("data", (chunk) => void syncAppend(fd, chunk).then(() => sock.write(ACK)));
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
} else if (role === "--leader") {
  const [file, ...ports] = rest;
  const fd = openSync(file, "w");
  const peers = ports.map((p) => net.connect(Number(p), "127.0.0.1").setNoDelay(true));
  let waiting = null;
  for (const p of peers) p.on("data", () => waiting?.ack());
  const server = http.createServer((req, res) => {
    if (req.url === "/cpu") return void res.end(String(process.cpuUsage().user + process.cpuUsage().system));
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const value = Buffer.concat(chunks);
      let acks = 0;
      let own = false;
      const done = () => {
        if (!own || acks < 1 || waiting !== w) return;
        waiting = null;
        res.end('{"index":1}');
      };
      const w = { ack: () => (acks++, done()) };
      waiting = w;
      for (const p of peers) p.write(value);
      void syncAppend(fd, value).then(() => ((own = true), done()));
    });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
} else {
  await main();
}

function started(child) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("a floor process did not start")), START_DEADLINE_MS);
    child.once("message", (m) => (clearTimeout(timer), resolve(m.port)));
    child.once("exit", (code) => reject(new Error(`a floor process exited with ${code}`)));
  });
}

function request(agent, port, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve(text));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

async function loop(agent, port, ms) {
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  const lat = [];
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    const t = performance.now();
    await request(agent, port, "PUT", `/kv/k${i % 1000}`, value);
    lat.push(performance.now() - t);
  }
  return lat;
}

async function main() {
  const { values } = parseArgs({
    options: { "duration-s": { type: "string", default: "5" }, "warmup-s": { type: "string", default: "3" } },
  });
  const durationS = Number(values["duration-s"]);
  const warmupS = Number(values["warmup-s"]);
  if (!(durationS > 0) || !(warmupS >= 0)) {
    console.error("bench-raft-floor: --duration-s must be > 0 and --warmup-s >= 0");
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-raft-floor-"));
  const self = import.meta.filename;
  const children = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const followers = [1, 2].map((i) => fork(self, ["--follower", join(dir, `follower-${i}.log`)]));
    children.push(...followers);
    const ports = await Promise.all(followers.map(started));
    const leader = fork(self, ["--leader", join(dir, "leader.log"), ...ports.map(String)]);
    children.push(leader);
    const port = await started(leader);
    await loop(agent, port, warmupS * 1000);
    const cpu0 = Number(await request(agent, port, "GET", "/cpu"));
    const lat = await loop(agent, port, durationS * 1000);
    const cpuUs = Number(await request(agent, port, "GET", "/cpu")) - cpu0;
    lat.sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)];
    const r = { perSec: lat.length / durationS, p50: pct(50), p99: pct(99), cpuLeaderUs: cpuUs / lat.length };
    console.log(
      `floor c=  1  ${r.perSec.toFixed(0).padStart(6)} commits/s  p50 ${r.p50.toFixed(2)} ms  ` +
        `p99 ${r.p99.toFixed(2)} ms  cpu us/commit leader ${r.cpuLeaderUs.toFixed(0)}`,
    );
    console.log(`RESULT ${JSON.stringify(r)}`);
  } finally {
    agent.destroy();
    for (const c of children) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
