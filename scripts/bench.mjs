#!/usr/bin/env node
// `npm run bench`: one `weed-ts server` (master + volume) on free loopback ports in a temp dir,
// benchmark volumes pre-grown, then `weed-ts benchmark -c 16 -n 100000 -size 1024`, then the
// server is stopped and the temp dir removed. Prints the benchmark's report and the targets.
//
// Overrides: env BENCH_N, BENCH_C, BENCH_SIZE, BENCH_GROW (volumes to pre-grow, default 4),
// BENCH_TIMEOUT_S (whole run, default 900), BENCH_JWT=1 (a security.toml with [jwt.signing] given
// to the server and the benchmark with -security: every upload carries the token its assign
// minted, checked by the volume server; BENCH_JWT=read adds [jwt.signing.read]: every read asks
// the master for a read token first, as SeaweedFS's clients do), BENCH_PROF_DIR=<dir> (the server and
// the benchmark run under `node --cpu-prof`, their .cpuprofile files written there on exit), or
// arguments: npm run bench -- -n=20000 -c=32 -fsync (any other -flag is passed to `weed-ts benchmark`
// as is). Needs a build (npm run build).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { cpuTimes } from "./proc-cpu.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WEED = join(ROOT, "bin", "weed-ts.js");
const GRPC_PORT_OFFSET = 10000;
// Bounds, in ms.
const START_WAIT_MS = 30_000; // server up and the volume server registered with the master
const STOP_WAIT_MS = 15_000; // SIGTERM to exit, before SIGKILL (the server drains for a few seconds)
const POLL_MS = 200;
const HTTP_TIMEOUT_MS = 2_000;
// Targets for one loopback server with 1 KB files.
const TARGET_WRITES_PER_SEC = 5_000;
const TARGET_READS_PER_SEC = 15_000;

function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative integer`);
  return n;
}

/** Benchmark flags: defaults, then env, then "-flag=value" / "-flag value" / "-boolFlag" arguments. */
function benchmarkFlags(argv) {
  const flags = new Map([
    ["c", String(envInt("BENCH_C", 16))],
    ["n", String(envInt("BENCH_N", 100_000))],
    ["size", String(envInt("BENCH_SIZE", 1024))],
  ]);
  const BOOLEAN = new Set(["writeOnly", "readOnly", "fsync"]);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([A-Za-z.]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(argv[i])} (expected -flag=value)`);
    const [, name, inline] = m;
    if (name === "master" || name === "list") throw new Error(`-${name} is set by this script`);
    if (inline !== undefined) flags.set(name, inline);
    else if (BOOLEAN.has(name)) flags.set(name, "true");
    else if (i + 1 < argv.length) flags.set(name, argv[++i]);
    else throw new Error(`-${name} needs a value`);
  }
  return flags;
}

async function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A loopback port p such that p and p + 10000 (its gRPC port) are free and not in `taken`. */
async function freePortPair(taken) {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 35000);
    const both = [p, p + GRPC_PORT_OFFSET];
    if (both.some((x) => taken.has(x))) continue;
    if ((await portFree(p)) && (await portFree(p + GRPC_PORT_OFFSET))) {
      for (const x of both) taken.add(x);
      return p;
    }
  }
  throw new Error("no free loopback port pair found");
}

async function httpOk(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function waitFor(what, url, server, deadlineMs, signal) {
  while (Date.now() < deadlineMs) {
    if (signal.aborted) throw new Error(`stopped while waiting for ${what}`);
    if (server.exitCode !== null || server.signalCode !== null)
      throw new Error(`server exited while waiting for ${what}`);
    if (await httpOk(url)) return;
    await sleep(POLL_MS);
  }
  throw new Error(`no ${what} within ${START_WAIT_MS} ms (${url})`);
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(STOP_WAIT_MS).then(() => false)]);
  if (!done) {
    log(`server pid ${child.pid} did not stop in ${STOP_WAIT_MS} ms; killing it`);
    child.kill("SIGKILL");
    await exited;
  }
}

/**
 * Runs `weed-ts benchmark`, echoing its output, and resolves with the exit code and the text.
 * On `signal` the child gets SIGINT (it stops early and prints what it measured), then SIGKILL
 * if it has not exited within STOP_WAIT_MS.
 */
function runBenchmarkChild(args, signal) {
  return new Promise((resolve, reject) => {
    const node = [...profileArgs("benchmark"), WEED, "benchmark", ...args];
    const child = spawn(process.execPath, node, { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    let killTimer;
    const onAbort = () => {
      child.kill("SIGINT");
      killTimer = setTimeout(() => child.kill("SIGKILL"), STOP_WAIT_MS);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      text += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code, sig) => {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      resolve({ code: code ?? (sig ? 1 : 0), text });
    });
  });
}

/** `node --cpu-prof` flags for a process named `name` when BENCH_PROF_DIR is set. */
function profileArgs(name) {
  const dir = process.env.BENCH_PROF_DIR;
  if (dir === undefined || dir === "") return [];
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`];
}

/** "Requests per second" and "Failed requests" of each phase in the printed report. */
function parseReport(text) {
  const phases = {};
  const sections = text.split(/------------ (Writing|Randomly Reading) Benchmark ----------/);
  for (let i = 1; i + 1 < sections.length; i += 2) {
    const body = sections[i + 1];
    const rps = /Requests per second:\s+([\d.]+)/.exec(body);
    const failed = /Failed requests:\s+(\d+)/.exec(body);
    phases[sections[i] === "Writing" ? "write" : "read"] = {
      rps: rps ? Number(rps[1]) : undefined,
      failed: failed ? Number(failed[1]) : undefined,
    };
  }
  return phases;
}

function verdict(name, phase, target) {
  if (!phase || phase.rps === undefined) return `${name}: not measured`;
  const ok = phase.rps >= target ? "OK" : "BELOW TARGET";
  return `${name}: ${phase.rps.toFixed(0)} files/s (target >= ${target}): ${ok}; failed requests: ${phase.failed}`;
}

/** BENCH_JWT: "" or "0" off, "1" write tokens, "read" write and read tokens. */
function jwtMode() {
  const v = process.env.BENCH_JWT ?? "";
  if (v === "" || v === "0") return "off";
  if (v === "1") return "write";
  if (v === "read") return "read";
  throw new Error(`BENCH_JWT=${v}: expected 0, 1 or read`);
}

/** A security.toml in `dir` with fresh keys, or undefined when JWT is off. Lifetimes: SeaweedFS's defaults. */
async function securityFile(dir, mode) {
  if (mode === "off") return undefined;
  let toml = `[jwt.signing]\nkey = "${randomBytes(32).toString("base64")}"\nexpires_after_seconds = 10\n`;
  if (mode === "read")
    toml += `[jwt.signing.read]\nkey = "${randomBytes(32).toString("base64")}"\nexpires_after_seconds = 60\n`;
  const path = join(dir, "security.toml");
  await writeFile(path, toml);
  return path;
}

/** The verdicts, the JWT mode and the server's CPU per request. */
function printSummary(text, { jwt, serverCpu, n }) {
  const phases = parseReport(text);
  const writes = verdict("write", phases.write, TARGET_WRITES_PER_SEC);
  process.stdout.write(`\nJWT: ${jwt}\n${writes}\n${verdict("read", phases.read, TARGET_READS_PER_SEC)}\n`);
  const requests = (phases.write ? n : 0) + (phases.read ? n : 0);
  const us = (sec) => ((sec * 1e6) / requests).toFixed(0);
  const total = serverCpu.user + serverCpu.sys;
  const perRequest =
    requests > 0 ? `, ${us(total)} us per request (user ${us(serverCpu.user)}, sys ${us(serverCpu.sys)})` : "";
  process.stdout.write(`server CPU (user+sys): ${total.toFixed(2)} s${perRequest}\n`);
}

async function main() {
  const flags = benchmarkFlags(process.argv.slice(2));
  const jwt = jwtMode();
  const grow = envInt("BENCH_GROW", 4);
  const timeoutMs = envInt("BENCH_TIMEOUT_S", 900) * 1000;
  if (!existsSync(join(ROOT, "dist", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` first");

  const stopAll = new AbortController();
  const overall = setTimeout(() => {
    log(`whole run over ${timeoutMs} ms: stopping`);
    stopAll.abort();
  }, timeoutMs);
  for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => stopAll.abort());

  const dir = await mkdtemp(join(tmpdir(), "weed-bench-"));
  let server;
  let serverLog;
  let exitCode = 1;
  try {
    const taken = new Set();
    const masterPort = await freePortPair(taken);
    const volumePort = await freePortPair(taken);
    const master = `127.0.0.1:${masterPort}`;
    const volume = `127.0.0.1:${volumePort}`;
    serverLog = await open(join(dir, "server.log"), "w");
    const security = await securityFile(dir, jwt);
    const securityArgs = security === undefined ? [] : [`-security=${security}`];
    log(`starting weed-ts server: master ${master}, volume ${volume}, dir ${dir}, JWT ${jwt}`);
    server = spawn(
      process.execPath,
      [
        ...profileArgs("server"),
        WEED,
        "server",
        `-dir=${dir}`,
        "-ip=127.0.0.1",
        `-master.port=${masterPort}`,
        `-volume.port=${volumePort}`,
        "-volume.max=16",
        ...securityArgs,
      ],
      { stdio: ["ignore", serverLog.fd, serverLog.fd] },
    );
    const deadline = Date.now() + START_WAIT_MS;
    await waitFor("master", `http://${master}/cluster/status`, server, deadline, stopAll.signal);
    await waitFor("volume server", `http://${volume}/status`, server, deadline, stopAll.signal);
    // Succeeds once the volume server's heartbeat has reached the master.
    await waitFor(
      "volume growth",
      `http://${master}/vol/grow?collection=benchmark&count=${grow}`,
      server,
      deadline,
      stopAll.signal,
    );

    const args = [`-master=${master}`, `-list=${join(dir, "benchmark_list.txt")}`, ...securityArgs];
    for (const [k, v] of flags) args.push(v === "true" ? `-${k}` : `-${k}=${v}`);
    log(`weed-ts benchmark ${args.join(" ")}`);
    const cpuBefore = cpuTimes(server.pid);
    const { code, text } = await runBenchmarkChild(args, stopAll.signal);
    const cpuAfter = cpuTimes(server.pid);
    const serverCpu = { user: cpuAfter.user - cpuBefore.user, sys: cpuAfter.sys - cpuBefore.sys };
    printSummary(text, { jwt, serverCpu, n: Number(flags.get("n")) });
    exitCode = code;
  } catch (err) {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    if (serverLog) {
      const tail = (await readFile(join(dir, "server.log"), "utf8").catch(() => "")).split("\n").slice(-30).join("\n");
      if (tail.trim() !== "") log(`server log (last 30 lines):\n${tail}`);
    }
  } finally {
    clearTimeout(overall);
    if (server) await stop(server);
    await serverLog?.close();
    await rm(dir, { recursive: true, force: true });
  }
  return exitCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
