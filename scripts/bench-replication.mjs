#!/usr/bin/env node
// `npm run bench:replication`: replicated writes and reads next to unreplicated ones, in one run.
// One master and three volume servers (racks r1, r2, r3) on loopback in a temp dir; then
// `weed-ts benchmark -replication=000` and `weed-ts benchmark -replication=010` (each its own
// collection and -list file; -writeOnly, then -readOnly of that list) against the same cluster,
// alternating BENCH_ROUNDS times so both see the same machine. Reads go to a random location of
// the lookup, as clients do. Prints writes/s and reads/s of both and the ratios against the
// issue's targets (replicated writes >= 50% of unreplicated, reads >= 90%), and the CPU seconds
// every process of the run (client, master, volume servers) spent per request: on a shared
// machine the throughput ratio swings with others' load, the CPU per request much less.
//
// Env: BENCH_N (files per run, default 20000), BENCH_C (default 16), BENCH_SIZE (default 1024),
// BENCH_ROUNDS (default 2), BENCH_LOG_LEVEL (default warn), BENCH_FSYNC (1: every write with
// -fsync), BENCH_PROF_DIR (when set, the volume servers run with --cpu-prof into it), BENCH_ONLY
// (000 or 010: run that one only, e.g. to profile it). Needs a build (npm run build).
// Stops only the processes it started, by pid, and removes its temp dir.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { freePortPair } from "./bench-ports.mjs";
import { cpuTimes, reapedChildrenCpuTimes } from "./proc-cpu.mjs";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const WEED = path.join(ROOT, "bin", "weed-ts.js");
const env = (name, dflt) => (process.env[name] === undefined || process.env[name] === "" ? dflt : process.env[name]);
const N = Number(env("BENCH_N", 20_000));
const C = Number(env("BENCH_C", 16));
const SIZE = Number(env("BENCH_SIZE", 1024));
const ROUNDS = Number(env("BENCH_ROUNDS", 2));
const LOG_LEVEL = env("BENCH_LOG_LEVEL", "warn");
const PROF_DIR = env("BENCH_PROF_DIR", "");
const ONLY = env("BENCH_ONLY", "");
const FSYNC = env("BENCH_FSYNC", "") === "1";
const START_DEADLINE_MS = 30_000;
const TARGET_WRITE_RATIO = 0.5;
const TARGET_READ_RATIO = 0.9;

function log(msg) {
  process.stderr.write(`[bench-replication] ${msg}\n`);
}

const children = [];
function startWeed(args, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, WEED, ...args], { stdio: ["ignore", "ignore", "inherit"] });
  children.push(child);
  return child;
}

async function stopAll() {
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
          c.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill("SIGTERM");
        }),
    ),
  );
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
  const r = await request(url, { headersTimeout: 2_000, bodyTimeout: 2_000 });
  const text = await r.body.text();
  return { status: r.statusCode, body: text === "" ? undefined : JSON.parse(text) };
}

/** CPU seconds (user + system) of every process this script started so far, reaped ones included. */
function cpuSeconds() {
  const reaped = reapedChildrenCpuTimes(); // the benchmark runs, waited for
  let seconds = reaped.user + reaped.sys;
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const t = cpuTimes(c.pid);
    seconds += t.user + t.sys;
  }
  return seconds; // NaN off Linux
}

/**
 * Runs one phase of `weed-ts benchmark` (-writeOnly, then -readOnly of the same -list); resolves
 * with its requests/s, failures, and the CPU seconds all processes (client, master, volume
 * servers) spent on it: on a machine shared with other work, CPU per request is the steadier
 * measure, and on a CPU-bound box the ratio of throughputs follows its inverse.
 */
function benchmark(master, replication, list, phase) {
  const args = [WEED, "benchmark", `-master=${master}`, `-replication=${replication}`, `-collection=r${replication}`];
  args.push(`-n=${N}`, `-c=${C}`, `-size=${SIZE}`, `-list=${list}`, `-${phase}`, ...(FSYNC ? ["-fsync"] : []));
  const cpu0 = cpuSeconds();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (chunk) => (text += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) return reject(new Error(`benchmark -replication=${replication} exited with ${code}`));
      const num = (re) => Number(re.exec(text)?.[1] ?? NaN);
      resolve({
        perSec: num(/Requests per second:\s+([\d.]+)/),
        failed: num(/Failed requests:\s+(\d+)/),
        cpuMs: (1000 * (cpuSeconds() - cpu0)) / N,
      });
    });
  });
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, "dist"))) throw new Error("no dist/: run npm run build first");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weed-bench-replication-"));
  try {
    const taken = new Set();
    const masterPort = await freePortPair(taken);
    const master = `127.0.0.1:${masterPort}`;
    startWeed(["master", `-mdir=${dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, `-logLevel=${LOG_LEVEL}`]);
    await waitUntil("master", async () => (await json(`http://${master}/healthz`)).status === 200);
    for (const rack of ["r1", "r2", "r3"]) {
      const port = await freePortPair(taken);
      const args = ["volume", `-dir=${dir}/${rack}`, "-ip=127.0.0.1", `-port=${port}`, `-mserver=${master}`];
      const prof =
        PROF_DIR === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`, `--cpu-prof-name=${rack}.cpuprofile`];
      startWeed([...args, `-rack=${rack}`, "-max=30", `-logLevel=${LOG_LEVEL}`], prof);
    }
    await waitUntil("three volume servers", async () => {
      const s = (await json(`http://${master}/dir/status`)).body;
      const racks = s.Topology?.DataCenters?.flatMap((dc) => dc.Racks ?? []) ?? [];
      return racks.flatMap((r) => r.DataNodes ?? []).length === 3;
    });
    const runs = { "000": [], "010": [] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const rep of ["000", "010"].filter((r) => ONLY === "" || r === ONLY)) {
        log(`round ${round}/${ROUNDS}: benchmark -replication=${rep} -n=${N} -c=${C} -size=${SIZE}`);
        const list = path.join(dir, `list-${rep}-${round}.txt`);
        const w = await benchmark(master, rep, list, "writeOnly");
        const r = await benchmark(master, rep, list, "readOnly");
        runs[rep].push({
          writes: w.perSec,
          reads: r.perSec,
          failed: w.failed + r.failed,
          wCpu: w.cpuMs,
          rCpu: r.cpuMs,
        });
      }
    }
    report(runs);
  } finally {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(runs) {
  if (ONLY !== "") return console.log(JSON.stringify(runs[ONLY]));
  const best = (rep, key) => Math.max(...runs[rep].map((r) => r[key]));
  const least = (rep, key) => Math.min(...runs[rep].map((r) => r[key]));
  const failed = (rep) => runs[rep].reduce((n, r) => n + r.failed, 0);
  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  const flags = `-n=${N} -c=${C} -size=${SIZE}${FSYNC ? " -fsync" : ""}`;
  console.log("");
  console.log(`weed-ts benchmark, 3 volume servers on racks r1-r3, ${flags}, best of ${ROUNDS}`);
  console.log("replication  writes/s   reads/s  failed  CPU ms/write  CPU ms/read (all processes, least)");
  for (const rep of ["000", "010"]) {
    const row = [rep.padEnd(11), fmt(best(rep, "writes")).padStart(9), fmt(best(rep, "reads")).padStart(9)];
    const cpu = [least(rep, "wCpu").toFixed(3).padStart(12), least(rep, "rCpu").toFixed(3).padStart(12)];
    console.log(`${row.join(" ")}  ${String(failed(rep)).padStart(6)}  ${cpu.join(" ")}`);
  }
  const w = best("010", "writes") / best("000", "writes");
  const r = best("010", "reads") / best("000", "reads");
  const verdict = (x, t) => (x >= t ? "OK" : "BELOW TARGET");
  console.log(
    `replicated / unreplicated writes: ${(100 * w).toFixed(1)}% (target >= 50%): ${verdict(w, TARGET_WRITE_RATIO)}`,
  );
  console.log(
    `replicated / unreplicated reads:  ${(100 * r).toFixed(1)}% (target >= 90%): ${verdict(r, TARGET_READ_RATIO)}`,
  );
  const cw = least("000", "wCpu") / least("010", "wCpu");
  const cr = least("000", "rCpu") / least("010", "rCpu");
  console.log(
    `CPU per write, unreplicated / replicated: ${(100 * cw).toFixed(1)}% (the writes/s ratio on a CPU-bound box)`,
  );
  console.log(`CPU per read, unreplicated / replicated:  ${(100 * cr).toFixed(1)}%`);
}

await main();
