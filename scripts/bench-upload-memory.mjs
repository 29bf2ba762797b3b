#!/usr/bin/env node
// Upload memory benchmark (issue 9 item 3): a real `weed-ts server` takes N concurrent large
// uploads while /healthz is probed; prints the server's peak RSS, its RSS once the load is over,
// /healthz latency during the load and how many uploads were accepted or refused.
// Run after `npm run build`:
//
//   node scripts/bench-upload-memory.mjs [--uploads=12] [--size-mb=250] [--log-level=warn]
//        [--server-flag=-volume.concurrentUploadLimitMB=512 ...] [--node-flag=--cpu-prof ...]
//        [--settle-ms=10000] [--no-verify] [--keep]
//
// --size-mb is MiB per upload (250 MiB fits under the default -volume.fileSizeLimitMB=256).
// --server-flag (repeatable) is passed to `weed-ts server` as is, e.g. to compare limits;
// --node-flag (repeatable) to the node running it, e.g. --trace-gc or --cpu-prof.
// Each upload is a distinct body streamed from a 1 MiB pattern (the bench holds no more than
// that per upload), sent with its Content-Length by PUT to a fid from the master's /dir/assign.
// Peak RSS is the kernel's VmHWM of the server process; RSS is also sampled every SAMPLE_MS.
// Every accepted upload is read back and its CRC32-C compared with what was sent (--no-verify
// skips that). Kills only the process it started, by pid; removes its temp dir unless --keep.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { crc32c } from "@node-rs/crc32";
import { Agent, request } from "undici";
import { freePortPair } from "./bench-ports.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const WEED = join(ROOT, "bin/weed-ts.js");

// Bounds (ms unless named otherwise).
const START_DEADLINE_MS = 30_000; // the server answering and its first assign succeeding
const UPLOAD_DEADLINE_MS = 300_000; // one upload, waiting for its turn included
const PROBE_TIMEOUT_MS = 10_000; // one /healthz probe (a stalled event loop shows as a long probe)
const PROBE_GAP_MS = 20; // pause between /healthz probes
const SAMPLE_MS = 50; // RSS sampling period
const SETTLE_MS_DEFAULT = 10_000; // idle time after the load before "RSS afterwards" is read
const EXIT_DEADLINE_MS = 15_000; // SIGTERM -> exit; then SIGKILL
const PATTERN_BYTES = 1024 * 1024; // the body is streamed in chunks of this size
// Targets (from the issue).
const TARGET_PEAK_RSS_MB = 600;
const TARGET_HEALTHZ_MS = 100;

const { values: flags } = parseArgs({
  options: {
    uploads: { type: "string", default: "12" },
    "size-mb": { type: "string", default: "250" },
    "log-level": { type: "string", default: "warn" },
    "server-flag": { type: "string", multiple: true, default: [] },
    "node-flag": { type: "string", multiple: true, default: [] },
    "settle-ms": { type: "string", default: String(SETTLE_MS_DEFAULT) },
    "no-verify": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});

function intFlag(name, min, max) {
  const text = flags[name];
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    console.error(`--${name}=${text}: expected a whole number ${min}..${max}`);
    process.exit(2);
  }
  return n;
}

const uploads = intFlag("uploads", 1, 1000);
const sizeBytes = intFlag("size-mb", 1, 4096) * 1024 * 1024;
const settleMs = intFlag("settle-ms", 0, 600_000);
const mb = (bytes) => (bytes / (1024 * 1024)).toFixed(0);

if (!existsSync(join(ROOT, "dist/cli/main.js"))) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(1);
}

/** VmRSS and VmHWM of `pid` in bytes (Linux /proc). */
function memoryOf(pid) {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? "NaN") * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Upload i's body, streamed: the pattern with the upload's index and the chunk's in front. */
function* bodyChunks(i, pattern) {
  for (let off = 0, n = 0; off < sizeBytes; off += PATTERN_BYTES, n++) {
    const chunk = Buffer.from(pattern.subarray(0, Math.min(PATTERN_BYTES, sizeBytes - off)));
    chunk.writeUInt32BE(i, 0);
    chunk.writeUInt32BE(n, 4);
    yield chunk;
  }
}

function expectedCrc(i, pattern) {
  let crc = 0;
  for (const chunk of bodyChunks(i, pattern)) crc = crc32c(chunk, crc);
  return crc >>> 0;
}

async function waitReady(master, volume, deadline) {
  while (performance.now() < deadline) {
    try {
      const h = await request(`${volume}/healthz`, { headersTimeout: 1000 });
      await h.body.dump();
      const a = await request(`${master}/dir/assign`, { headersTimeout: 5000 });
      const body = await a.body.json();
      if (h.statusCode === 200 && a.statusCode === 200 && body.fid !== undefined) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`server not ready within ${START_DEADLINE_MS} ms`);
}

async function uploadOne(i, master, pattern, agent) {
  const a = await request(`${master}/dir/assign`, { headersTimeout: 10_000 });
  const assign = await a.body.json();
  if (a.statusCode !== 200) return { i, status: `assign ${a.statusCode}`, error: assign.error };
  const url = `http://${assign.url}/${assign.fid}`;
  try {
    const r = await request(url, {
      method: "PUT",
      dispatcher: agent,
      headers: { "content-length": String(sizeBytes), "content-type": "application/octet-stream" },
      body: bodyChunks(i, pattern),
      headersTimeout: UPLOAD_DEADLINE_MS,
      bodyTimeout: UPLOAD_DEADLINE_MS,
    });
    const text = await r.body.text();
    return { i, status: r.statusCode, url, text, retryAfter: r.headers["retry-after"] };
  } catch (err) {
    return { i, status: "error", error: err.message };
  }
}

// The prober runs on its own thread: the bench's main thread is busy producing upload bodies,
// and its event loop's delays must not be taken for the server's.
const PROBER = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let stop = false;
parentPort.on("message", () => (stop = true));
const latencies = [];
function probe() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const done = () => { latencies.push(performance.now() - t0); resolve(); };
    const req = http.get(workerData.url, { agent, timeout: workerData.timeoutMs }, (res) => {
      res.resume();
      res.on("end", done);
      res.on("error", done);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", done);
  });
}
(async () => {
  while (!stop) {
    await probe();
    await new Promise((r) => setTimeout(r, workerData.gapMs));
  }
  agent.destroy();
  parentPort.postMessage(latencies);
})();
`;

/** Starts probing `url`; the returned function stops it and resolves with every probe's latency (ms). */
function startProber(url) {
  const worker = new Worker(PROBER, {
    eval: true,
    workerData: { url, timeoutMs: PROBE_TIMEOUT_MS, gapMs: PROBE_GAP_MS },
  });
  const result = new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return async () => {
    worker.postMessage("stop");
    const latencies = await result;
    await worker.terminate();
    return latencies;
  };
}

async function verify(results, pattern, agent) {
  let ok = 0;
  const bad = [];
  for (const r of results) {
    if (r.status !== 201) continue;
    const g = await request(r.url, { dispatcher: agent, headersTimeout: 60_000, bodyTimeout: 60_000 });
    let crc = 0;
    let bytes = 0;
    for await (const chunk of g.body) {
      crc = crc32c(chunk, crc);
      bytes += chunk.length;
    }
    if (g.statusCode === 200 && bytes === sizeBytes && crc >>> 0 === expectedCrc(r.i, pattern)) ok++;
    else bad.push(`upload ${r.i}: ${g.statusCode}, ${bytes} bytes`);
  }
  return { ok, bad };
}

async function stopServer(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => process.kill(child.pid, "SIGKILL"), EXIT_DEADLINE_MS);
  await exited;
  clearTimeout(timer);
}

function report(results, latencies, mem, settled, baseline, verified, ms) {
  const sorted = [...latencies].sort((x, y) => x - y);
  const byStatus = new Map();
  for (const r of results) byStatus.set(String(r.status), (byStatus.get(String(r.status)) ?? 0) + 1);
  const okCount = results.filter((r) => r.status === 201).length;
  const refusals = results.filter((r) => r.status !== 201);
  const healthMax = sorted.at(-1) ?? NaN;
  console.log(`uploads: ${uploads} x ${mb(sizeBytes)} MiB in ${(ms / 1000).toFixed(1)} s`);
  console.log(`  accepted: ${okCount}, refused: ${refusals.length} (by status: ${JSON.stringify([...byStatus])})`);
  for (const r of refusals.slice(0, 3)) console.log(`  refused ${r.i}: ${r.status} ${r.text ?? r.error ?? ""}`);
  if (verified !== undefined) {
    console.log(`  read back: ${verified.ok} of ${okCount} match${verified.bad.length ? `; ${verified.bad}` : ""}`);
  }
  console.log(
    `server RSS: before ${mb(baseline)} MB, peak ${mb(mem.hwm)} MB (VmHWM; sampled max ${mb(mem.maxRss)} MB)`,
  );
  console.log(
    `  afterwards: ${mb(mem.endRss)} MB when the last upload ended, ${mb(settled)} MB after ${settleMs} ms idle`,
  );
  const f = (v) => v.toFixed(1);
  console.log(
    `/healthz during the load (${sorted.length} probes): p50 ${f(percentile(sorted, 50))} ms, ` +
      `p99 ${f(percentile(sorted, 99))} ms, max ${f(healthMax)} ms`,
  );
  const peakOk = mem.hwm < TARGET_PEAK_RSS_MB * 1024 * 1024;
  const healthOk = healthMax < TARGET_HEALTHZ_MS;
  console.log(`target peak RSS < ${TARGET_PEAK_RSS_MB} MB: ${peakOk ? "PASS" : "MISS"}`);
  console.log(`target /healthz max < ${TARGET_HEALTHZ_MS} ms: ${healthOk ? "PASS" : "MISS"}`);
}

async function runLoad(master, volume, pid) {
  const pattern = Buffer.alloc(PATTERN_BYTES);
  for (let k = 0; k < PATTERN_BYTES; k++) pattern[k] = (k * 131 + 7) & 0xff;
  const uploadAgent = new Agent({ connections: uploads });
  const baseline = memoryOf(pid).rss;
  const mem = { hwm: 0, maxRss: 0, endRss: 0 };
  const sampler = setInterval(() => {
    const m = memoryOf(pid);
    mem.maxRss = Math.max(mem.maxRss, m.rss);
  }, SAMPLE_MS);
  const stopProbing = startProber(`${volume}/healthz`);
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: uploads }, (_, i) => uploadOne(i, master, pattern, uploadAgent)),
  );
  const ms = performance.now() - t0;
  const latencies = await stopProbing();
  clearInterval(sampler);
  const end = memoryOf(pid);
  mem.endRss = end.rss;
  mem.hwm = end.hwm;
  await sleep(settleMs);
  const settled = memoryOf(pid).rss;
  const verified = flags["no-verify"] ? undefined : await verify(results, pattern, uploadAgent);
  report(results, latencies, mem, settled, baseline, verified, ms);
  await uploadAgent.close();
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "weed-bench-upload-"));
  const taken = new Set();
  const masterPort = await freePortPair(taken);
  const volumePort = await freePortPair(taken);
  const args = [
    "server",
    "-ip=127.0.0.1",
    `-dir=${dir}`,
    `-master.port=${masterPort}`,
    `-volume.port=${volumePort}`,
    `-logLevel=${flags["log-level"]}`,
    ...flags["server-flag"],
  ];
  console.log(`weed-ts ${args.join(" ")}`);
  const child = spawn(process.execPath, [...flags["node-flag"], WEED, ...args], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  const master = `http://127.0.0.1:${masterPort}`;
  const volume = `http://127.0.0.1:${volumePort}`;
  try {
    await waitReady(master, volume, performance.now() + START_DEADLINE_MS);
    await runLoad(master, volume, child.pid);
  } finally {
    await stopServer(child, exited);
    if (flags.keep) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
