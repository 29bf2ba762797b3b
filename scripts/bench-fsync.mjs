#!/usr/bin/env node
// `npm run bench:fsync`: durable writes of weed-ts next to bare Node, in one run on this machine.
//   1. bare Node (the disk anchor of ../shared/anchors/perf/disk-ceiling.sh, same code): 4 KB
//      appends with writeSync, one fdatasyncSync per 16 appends, for ANCHOR_S seconds; latency per
//      commit. The anchor recorded 52k appends/s on this machine.
//   2. the Store in process (no HTTP): BENCH_C writers, 1 KB needles over BENCH_GROW volumes,
//      fsync=true, for ANCHOR_S seconds; latency per write. What the storage can do on this disk.
//   3. weed-ts: scripts/bench.mjs starts one `weed-ts server` (master + volume server) in a temp dir,
//      pre-grows BENCH_GROW volumes and runs `weed-ts benchmark -fsync -writeOnly -c 64 -size 1024`
//      (assign + upload, every upload fsynced before its 201); latency per write. Then the same
//      without -fsync: on 2 cores shared by client, master and volume server, that is the ceiling
//      of the HTTP path in this run, and the ratio of the two is what fsync costs.
// Prints writes/s, p50/p99 of each and the ratios, and the target (>= 12,000 writes/s).
//
// Env: BENCH_N (weed-ts writes, default 100000), BENCH_C (default 64), BENCH_GROW (volumes, default
// 7: issue 2 measured 16 writers over 7 volumes), ANCHOR_S (default 5), BENCH_DIR (parent of the
// anchor's temp dir, default os.tmpdir(): the same disk as weed-ts's temp dir). Needs a build.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const TARGET_WRITES_PER_SEC = 12_000;
const env = (name, dflt) => (process.env[name] === undefined || process.env[name] === "" ? dflt : process.env[name]);
const N = Number(env("BENCH_N", 100_000));
const C = Number(env("BENCH_C", 64));
const GROW = Number(env("BENCH_GROW", 7));
const ANCHOR_S = Number(env("ANCHOR_S", 5));

// The anchor's append.js (disk-ceiling.sh), unchanged but for the output line.
const APPEND_JS = `
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const [file, recS, batchS, secsS] = process.argv.slice(1);
const rec = Number(recS), batch = Number(batchS), secs = Number(secsS);
const buf = crypto.randomBytes(rec);
const fd = fs.openSync(file, 'a');
const lat = [];
let records = 0;
const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(secs * 1e9));
for (;;) {
  const s = process.hrtime.bigint();
  if (s >= end) break;
  for (let i = 0; i < batch; i++) fs.writeSync(fd, buf);
  fs.fdatasyncSync(fd);
  lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  records += batch;
}
const el = Number(process.hrtime.bigint() - t0) / 1e9;
fs.closeSync(fd);
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
console.log(JSON.stringify({ perSec: records / el, p50: q(0.5), p99: q(0.99), commits: lat.length }));
`;

function log(msg) {
  process.stderr.write(`[bench-fsync] ${msg}\n`);
}

/** Runs a node child; resolves with its stdout (its stderr is passed through). */
function runNode(args, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...extraEnv },
    });
    let text = "";
    child.stdout.on("data", (chunk) => (text += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`${args[0]} exited with ${code}`))));
  });
}

async function anchor() {
  const dir = fs.mkdtempSync(path.join(env("BENCH_DIR", os.tmpdir()), "weed-bench-fsync-anchor-"));
  try {
    log(`bare Node: 4 KB appends, fdatasync per 16, ${ANCHOR_S} s`);
    const out = await runNode(["-e", APPEND_JS, path.join(dir, "append"), "4096", "16", String(ANCHOR_S)]);
    return JSON.parse(out.trim().split("\n").pop());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The Store in process: C writers over GROW volumes, 1 KB needles with fsync, ANCHOR_S seconds.
const STORE_JS = `
const [root, dir, volumes, writers, secs] = process.argv.slice(1);
const { Store } = await import(root + "/dist/volume/storage/store.js");
const { parseReplicaPlacement } = await import(root + "/dist/common/replica-placement.js");
const V = Number(volumes);
const s = new Store({ dir, maxVolumeCount: V });
await s.open();
const rp = parseReplicaPlacement("000");
for (let v = 1; v <= V; v++) {
  await s.allocateVolume(v, { collection: "", replicaPlacement: rp, ttl: { count: 0, unit: 0 }, preallocate: 0 });
}
const data = Buffer.alloc(1024, 0x61);
const lat = [];
let key = 0;
const t0 = performance.now();
const end = t0 + Number(secs) * 1000;
const writer = async () => {
  for (let t = performance.now(); t < end; t = performance.now()) {
    key++;
    await s.write((key % V) + 1, { key: BigInt(key), cookie: 1, data }, { fsync: true });
    lat.push(performance.now() - t);
  }
};
await Promise.all(Array.from({ length: Number(writers) }, writer));
const el = (performance.now() - t0) / 1000;
const rounds = s.syncRoundCount?.();
await s.close();
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
console.log(JSON.stringify({ perSec: lat.length / el, p50: q(0.5), p99: q(0.99), rounds }));
`;

async function store() {
  const dir = fs.mkdtempSync(path.join(env("BENCH_DIR", os.tmpdir()), "weed-bench-fsync-store-"));
  try {
    log(`Store in process: ${C} writers, ${GROW} volumes, 1 KB, fsync, ${ANCHOR_S} s`);
    const args = ["--input-type=module", "-e", STORE_JS, ROOT, dir, String(GROW), String(C), String(ANCHOR_S)];
    const out = await runNode(args);
    return JSON.parse(out.trim().split("\n").pop());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function weedTs(fsync) {
  const args = [path.join(ROOT, "scripts", "bench.mjs"), `-c=${C}`, `-n=${N}`, "-size=1024", "-writeOnly"];
  if (fsync) args.push("-fsync");
  log(`weed-ts: node ${args.map((a) => path.relative(ROOT, a) || a).join(" ")} (BENCH_GROW=${GROW})`);
  const text = await runNode(args, { BENCH_GROW: String(GROW) });
  process.stderr.write(text.replace(/^/gm, "  | "));
  const write = text.split("------------ Writing Benchmark ----------")[1] ?? "";
  const num = (re) => {
    const m = re.exec(write);
    if (m === null) throw new Error(`no ${re} in the benchmark's report`);
    return Number(m[1]);
  };
  return {
    perSec: num(/Requests per second:\s+([\d.]+)/),
    failed: num(/Failed requests:\s+(\d+)/),
    p50: num(/^\s+50%\s+([\d.]+) ms/m),
    p99: num(/^\s+99%\s+([\d.]+) ms/m),
  };
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");
const a = await anchor();
const st = await store();
const w = await weedTs(true);
const plain = await weedTs(false);
const row = (what, r, digits) => [what, fmt(r.perSec), r.p50.toFixed(digits), r.p99.toFixed(digits)];
const rows = [
  ["what", "per second", "p50 ms", "p99 ms"],
  row(`weed-ts benchmark -fsync -writeOnly -c ${C}, 1 KB, ${GROW} volumes (writes)`, w, 1),
  row(`weed-ts benchmark -writeOnly -c ${C}, no fsync, same setup (writes)`, plain, 1),
  row(`Store in process, ${C} writers, ${GROW} volumes, 1 KB, fsync (writes)`, st, 3),
  row("bare Node: 4 KB appends, fdatasync per 16 (appends; latency per commit)", a, 3),
];
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log("");
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
console.log("");
const pct = (x, y) => `${((100 * x) / y).toFixed(1)}%`;
if (st.rounds !== undefined) console.log(`Store in process: ${fmt(st.rounds)} sync rounds`);
console.log(`ratio weed-ts -fsync / bare Node: ${pct(w.perSec, a.perSec)}`);
console.log(`ratio Store in process fsync / bare Node: ${pct(st.perSec, a.perSec)}`);
console.log(`ratio weed-ts -fsync / weed-ts without fsync (same run): ${pct(w.perSec, plain.perSec)}`);
const ok = w.perSec >= TARGET_WRITES_PER_SEC && w.failed === 0;
console.log(
  `weed-ts -fsync writes: ${fmt(w.perSec)}/s, ${w.failed} failed (target >= ${fmt(TARGET_WRITES_PER_SEC)}/s): ` +
    (ok ? "OK" : "BELOW TARGET"),
);
