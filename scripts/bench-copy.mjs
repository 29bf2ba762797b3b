#!/usr/bin/env node
// `npm run bench:copy`: how fast a volume copy (gRPC VolumeCopy, what volume.fix.replication -apply
// runs) moves a ~1 GiB volume between two volume servers on loopback, next to a ceiling measured
// in the same run on the same bytes.
//   1. One master and two volume servers in a temp dir; one volume assigned on the first, filled
//      with raw PUTs of 1 MiB blobs to BENCH_MB MiB (default 1024).
//   2. Ceiling: a separate node process listens on loopback; this one streams the source's .dat to
//      it over TCP (fs read stream -> socket), and it writes the bytes to a file in the target's
//      dir and fdatasyncs it. Same file, same disk, same two processes' worth of cores as a copy.
//   3. VolumeCopy of that volume to the second server, timed from the call to its last message
//      (pull of .dat and .idx, catch-up check, CRC verification, rename, mount); then VolumeDelete
//      there so the next round copies again.
// Steps 2 and 3 alternate BENCH_ROUNDS times (default 2): prints MB/s of each round, the best of
// each, the ratio copy / ceiling, and the target (>= 100 MB/s).
//
// Env: BENCH_MB (default 1024), BENCH_ROUNDS (default 2), BENCH_LOG_LEVEL (default warn),
// BENCH_PROF_DIR (when set, volume servers run with --cpu-prof into it). Needs a build.
// Stops only the processes it started, by pid, and removes its temp dir.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { request } from "undici";
import { freePortPair, GRPC_PORT_OFFSET } from "./bench-ports.mjs";
import { cpuTimes } from "./proc-cpu.mjs";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const WEED = path.join(ROOT, "bin", "weed-ts.js");
const env = (name, dflt) => (process.env[name] === undefined || process.env[name] === "" ? dflt : process.env[name]);
const MB = Number(env("BENCH_MB", 1024));
const ROUNDS = Number(env("BENCH_ROUNDS", 2));
const LOG_LEVEL = env("BENCH_LOG_LEVEL", "warn");
const PROF_DIR = env("BENCH_PROF_DIR", "");
const START_DEADLINE_MS = 30_000;
const BLOB_BYTES = 1024 * 1024;
// One PUT at a time fills 1 GiB in seconds; the fill is not what is measured.
const PUT_CONCURRENCY = 1;
const COPY_DEADLINE_MS = 600_000;
const TARGET_MB_PER_SEC = 100;

const { createClient } = await import(pathToFileURL(path.join(ROOT, "dist", "grpc", "adapter.js")).href);
const { VolumeServer } = await import(pathToFileURL(path.join(ROOT, "dist", "gen", "volume_server_pb.js")).href);

function log(msg) {
  process.stderr.write(`[bench-copy] ${msg}\n`);
}

const children = [];
function startNode(args, stdout = 2) {
  const child = spawn(process.execPath, args, { stdio: ["ignore", stdout, "inherit"] });
  children.push(child);
  return child;
}

function stop(c) {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
    c.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill("SIGTERM");
  });
}

async function waitUntil(what, check) {
  const deadline = performance.now() + START_DEADLINE_MS;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (performance.now() > deadline) throw new Error(`${what}: not within ${START_DEADLINE_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function json(url) {
  const r = await request(url, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  const text = await r.body.text();
  return { status: r.statusCode, body: text === "" ? undefined : JSON.parse(text) };
}

/** Fills volume `vid` on `url` with `count` 1 MiB blobs, PUT_CONCURRENCY at a time. */
async function fill(url, vid, count) {
  const blob = Buffer.alloc(BLOB_BYTES);
  for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      blob.writeUInt32LE(i, 0); // every blob differs
      const fid = `${vid},${(0x1000 + i).toString(16)}1234abcd`;
      const r = await request(`http://${url}/${fid}`, { method: "PUT", body: blob, headersTimeout: 30_000 });
      await r.body.text();
      if (r.statusCode !== 201) throw new Error(`PUT ${fid}: ${r.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: PUT_CONCURRENCY }, worker));
}

// The ceiling's receiving end: writes what arrives to a file, fdatasyncs it, prints the bytes.
const RECEIVER_JS = `
const fs = require("fs"), net = require("net");
const [file] = process.argv.slice(1);
const server = net.createServer({ allowHalfOpen: true }, (sock) => {
  const out = fs.createWriteStream(file, { highWaterMark: 1 << 20 });
  let bytes = 0;
  sock.on("data", (d) => (bytes += d.length));
  sock.pipe(out);
  out.on("finish", () => {
    const fd = fs.openSync(file, "r+");
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    sock.end(String(bytes));
    server.close();
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

/** Streams `file` over loopback TCP to a receiver process that writes it into `dir`; returns seconds. */
async function tcpCeiling(file, dir) {
  const out = path.join(dir, "ceiling.bin");
  const child = startNode(["-e", RECEIVER_JS, out], "pipe");
  const port = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
  const t0 = performance.now();
  const sock = net.connect(port, "127.0.0.1");
  const answer = new Promise((resolve, reject) => {
    let text = "";
    sock.on("data", (d) => (text += d));
    sock.on("end", () => resolve(Number(text)));
    sock.on("error", reject);
  });
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), sock, { end: false });
  sock.end();
  const bytes = await answer;
  const seconds = (performance.now() - t0) / 1000;
  await stop(child);
  fs.rmSync(out, { force: true });
  if (bytes !== fs.statSync(file).size) throw new Error(`ceiling: received ${bytes} bytes`);
  return seconds;
}

/** VolumeCopy of `vid` from `source` (gRPC host:port) through `target`'s gRPC; returns seconds. */
async function volumeCopy(target, source, vid, collection) {
  const client = createClient(VolumeServer, target);
  try {
    const t0 = performance.now();
    const call = client.volumeCopy(
      { volumeId: vid, collection, sourceDataNode: source },
      { timeoutMs: COPY_DEADLINE_MS },
    );
    for await (const _ of call) {
      // progress messages
    }
    const seconds = (performance.now() - t0) / 1000;
    await client.volumeDelete({ volumeId: vid }, { timeoutMs: 30_000 });
    return seconds;
  } finally {
    client.close();
  }
}

/** "user+system" CPU seconds a child spent between two cpuTimes readings. */
function cpuSpent(before, after) {
  const user = after.user - before.user;
  const sys = after.sys - before.sys;
  return { user, sys, text: `${user.toFixed(2)}+${sys.toFixed(2)}` };
}

async function startCluster(dir) {
  const taken = new Set();
  const masterPort = await freePortPair(taken);
  const master = `127.0.0.1:${masterPort}`;
  startNode([WEED, "master", `-mdir=${dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, `-logLevel=${LOG_LEVEL}`]);
  await waitUntil("master", async () => (await json(`http://${master}/healthz`)).status === 200);
  const servers = [];
  for (const name of ["a", "b"]) {
    const port = await freePortPair(taken);
    const prof =
      PROF_DIR === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`, `--cpu-prof-name=volume-${name}.cpuprofile`];
    const args = [...prof, WEED, "volume", `-dir=${dir}/${name}`, "-ip=127.0.0.1", `-port=${port}`];
    const child = startNode([...args, `-mserver=${master}`, "-max=20", `-logLevel=${LOG_LEVEL}`]);
    servers.push({
      child,
      http: `127.0.0.1:${port}`,
      grpc: `127.0.0.1:${port + GRPC_PORT_OFFSET}`,
      dir: `${dir}/${name}`,
    });
  }
  await waitUntil("two volume servers", async () => {
    const s = (await json(`http://${master}/dir/status`)).body;
    const racks = s.Topology?.DataCenters?.flatMap((dc) => dc.Racks ?? []) ?? [];
    return racks.flatMap((r) => r.DataNodes ?? []).length === 2;
  });
  return { master, servers };
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, "dist"))) throw new Error("no dist/: run npm run build first");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weed-bench-copy-"));
  try {
    const { master, servers } = await startCluster(dir);
    const collection = "copybench";
    const a = (await json(`http://${master}/dir/assign?collection=${collection}`)).body;
    const vid = Number(String(a.fid).split(",")[0]);
    const source = servers.find((s) => s.http === a.url);
    const target = servers.find((s) => s !== source);
    log(`filling volume ${vid} on ${source.http} with ${MB} x 1 MiB`);
    const f0 = performance.now();
    await fill(source.http, vid, MB);
    log(`filled in ${((performance.now() - f0) / 1000).toFixed(1)} s`);
    const datFile = path.join(source.dir, `${collection}_${vid}.dat`);
    const bytes = fs.statSync(datFile).size + fs.statSync(path.join(source.dir, `${collection}_${vid}.idx`)).size;
    if (bytes < MB * BLOB_BYTES) throw new Error(`volume ${vid} holds ${bytes} bytes, fewer than written`);
    const rounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const c = await tcpCeiling(datFile, target.dir);
      const cpu0 = [cpuTimes(source.child.pid), cpuTimes(target.child.pid)];
      const v = await volumeCopy(target.grpc, source.grpc, vid, collection);
      const [s, d] = [cpuSpent(cpu0[0], cpuTimes(source.child.pid)), cpuSpent(cpu0[1], cpuTimes(target.child.pid))];
      const r = {
        ceiling: fs.statSync(datFile).size / 1e6 / c,
        copy: bytes / 1e6 / v,
        src: s.user + s.sys,
        dst: d.user + d.sys,
      };
      log(
        `round ${round}/${ROUNDS}: ceiling ${r.ceiling.toFixed(0)} MB/s, VolumeCopy ${r.copy.toFixed(0)} MB/s ` +
          `in ${v.toFixed(2)} s (CPU s user+sys: source ${s.text}, target ${d.text})`,
      );
      rounds.push(r);
    }
    report(bytes, rounds);
  } finally {
    await Promise.all(children.map(stop));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(bytes, rounds) {
  const best = (k) => Math.max(...rounds.map((r) => r[k]));
  const ratio = best("copy") / best("ceiling");
  console.log("");
  console.log(`volume copy of ${(bytes / 2 ** 30).toFixed(2)} GiB (.dat + .idx) on loopback, best of ${ROUNDS}`);
  console.log(
    `  loopback TCP stream of the .dat into a file + fdatasync (ceiling): ${best("ceiling").toFixed(0)} MB/s`,
  );
  console.log(`  gRPC VolumeCopy (pull, verify, mount):                           ${best("copy").toFixed(0)} MB/s`);
  console.log(`ratio VolumeCopy / ceiling: ${(100 * ratio).toFixed(1)}%`);
  const least = (k) => Math.min(...rounds.map((r) => r[k]));
  console.log(
    `CPU seconds per copy (least, user+sys, all threads): ` +
      `source ${least("src").toFixed(2)}, target ${least("dst").toFixed(2)}`,
  );
  const ok = best("copy") >= TARGET_MB_PER_SEC;
  console.log(
    `VolumeCopy: ${best("copy").toFixed(0)} MB/s (target >= ${TARGET_MB_PER_SEC} MB/s): ${ok ? "OK" : "BELOW TARGET"}`,
  );
}

await main();
