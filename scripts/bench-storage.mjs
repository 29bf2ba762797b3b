#!/usr/bin/env node
// In-process benchmark of the needle storage (no HTTP): needle-map memory for 1,000,000 needles,
// load time of a 1,000,000-needle volume (1 KiB each), and Store write/read throughput for 1 KiB
// needles, plain and fsync=true with 16 concurrent writers. Needs a build (npx tsc -p tsconfig.json).
//
// Env overrides: BENCH_LOAD_N (needles in the load test, default 1000000), BENCH_WRITE_N (plain
// writes, default 200000), BENCH_READ_N (reads, default 500000), BENCH_FSYNC_S (seconds of fsync
// writes, default 3), BENCH_DIR (parent of the temp dir, default os.tmpdir()).
// Run with `node --expose-gc scripts/bench-storage.mjs` for a cleaner memory figure.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const lib = (f) => import(path.join(ROOT, "dist", "volume", "storage", f));
const { NeedleMap } = await lib("needle-map.js");
const { Volume } = await lib("volume.js");
const { Store } = await lib("store.js");
const { encodeNeedle } = await lib("needle.js");
const { writeIdxEntry, idxEntryBytes } = await lib("idx.js");
const { silentLogger } = await import(path.join(ROOT, "dist", "common", "logger.js"));

const env = (name, dflt) => (process.env[name] === undefined ? dflt : Number(process.env[name]));
const LOAD_N = env("BENCH_LOAD_N", 1_000_000);
const WRITE_N = env("BENCH_WRITE_N", 200_000);
const READ_N = env("BENCH_READ_N", 500_000);
const FSYNC_S = env("BENCH_FSYNC_S", 3);
const FSYNC_WRITERS = 16;
const NEEDLE_BYTES = 1024;
const MiB = 1024 * 1024;

const gc = globalThis.gc ?? (() => undefined);
const fmt = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const rp = { diffDataCenter: 0, diffRack: 0, sameRack: 0 };
const noTtl = { count: 0, unit: 0 };
const payload = Buffer.alloc(NEEDLE_BYTES, 0x61);

const parent = process.env.BENCH_DIR ?? os.tmpdir();
const dir = fs.mkdtempSync(path.join(parent, "weed-bench-storage-"));
const results = [];
const report = (what, value) => {
  results.push([what, value]);
  console.log(`${what.padEnd(52)} ${value}`);
};

try {
  benchMap();
  await benchLoad();
  await benchStore();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

function benchMap() {
  gc();
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const m = new NeedleMap();
  for (let i = 1; i <= 1_000_000; i++) m.put(0, i, i, NEEDLE_BYTES);
  const ms = performance.now() - t0;
  gc();
  const held = process.memoryUsage().arrayBuffers - before;
  report("needle map, 1,000,000 needles: table bytes", `${fmt(m.byteLength / MiB, 1)} MiB (${fmt(m.byteLength)} B)`);
  report("needle map, 1,000,000 needles: arrayBuffers delta", `${fmt(held / MiB, 1)} MiB`);
  report("needle map, 1,000,000 puts (growing from empty)", `${fmt(ms)} ms`);
  let found = 0;
  const t1 = performance.now();
  for (let i = 1; i <= 1_000_000; i++) if (m.find(0, i) >= 0) found++;
  report("needle map, 1,000,000 lookups", `${fmt(performance.now() - t1)} ms (${found} found)`);
}

/** Writes a LOAD_N-needle volume straight to its files (batched), then times Volume.load(). */
async function benchLoad() {
  const v = new Volume({ dir, id: 1, collection: "", logger: silentLogger() });
  await v.create({ replicaPlacement: rp, ttl: noTtl });
  await v.close();
  const batch = 4096;
  const datFd = fs.openSync(v.datPath, "r+");
  const idxFd = fs.openSync(v.idxPath, "r+");
  let datEnd = fs.fstatSync(datFd).size;
  let idxEnd = 0;
  const t0 = performance.now();
  let ns = BigInt(Date.now()) * 1_000_000n;
  for (let start = 1; start <= LOAD_N; start += batch) {
    const count = Math.min(batch, LOAD_N - start + 1);
    const records = [];
    const idx = Buffer.alloc(count * idxEntryBytes);
    let at = datEnd;
    for (let i = 0; i < count; i++) {
      const key = start + i;
      const enc = encodeNeedle({ key: BigInt(key), cookie: key, data: payload, lastModified: 1 }, 3, ns++, 0);
      writeIdxEntry(idx, i * idxEntryBytes, 0, key, at / 8, enc.size);
      records.push(enc.record);
      at += enc.record.length;
    }
    const chunk = Buffer.concat(records);
    fs.writeSync(datFd, chunk, 0, chunk.length, datEnd);
    fs.writeSync(idxFd, idx, 0, idx.length, idxEnd);
    datEnd += chunk.length;
    idxEnd += idx.length;
  }
  fs.closeSync(datFd);
  fs.closeSync(idxFd);
  report(
    `volume of ${fmt(LOAD_N)} x 1 KiB written directly`,
    `${fmt((performance.now() - t0) / 1000, 1)} s, .dat ${fmt(datEnd / MiB)} MiB`,
  );

  for (let run = 1; run <= 3; run++) {
    gc();
    const t = performance.now();
    const loaded = new Volume({ dir, id: 1, collection: "", logger: silentLogger() });
    const rep = await loaded.load();
    const ms = performance.now() - t;
    const map = `map ${fmt(loaded.mapBytes / MiB, 1)} MiB`;
    const repaired = `repaired ${rep.recordsRecovered + rep.idxEntriesDropped}`;
    report(
      `load ${fmt(LOAD_N)}-needle volume, run ${run}`,
      `${fmt(ms)} ms (${fmt(loaded.needleCount)} needles, ${map}, ${repaired})`,
    );
    await loaded.close();
  }
  fs.rmSync(v.datPath);
  fs.rmSync(v.idxPath);
}

async function benchStore() {
  const store = new Store({ dir, maxVolumeCount: 4, logger: silentLogger() });
  await store.open();
  await store.allocateVolume(2, { collection: "", replicaPlacement: rp, ttl: noTtl, preallocate: 0 });
  await store.allocateVolume(3, { collection: "", replicaPlacement: rp, ttl: noTtl, preallocate: 0 });
  try {
    // Plain writes: each awaited in turn, as a request handler would.
    let t = performance.now();
    for (let i = 1; i <= WRITE_N; i++) await store.write(2, { key: BigInt(i), cookie: i, data: payload });
    let s = (performance.now() - t) / 1000;
    report(
      `store write 1 KiB, no fsync (${fmt(WRITE_N)} sequential)`,
      `${fmt(WRITE_N / s)} writes/s, ${fmt((WRITE_N * NEEDLE_BYTES) / MiB / s, 1)} MiB/s`,
    );

    // Reads: random keys from the ones just written (page cache).
    let x = 12345;
    let bytes = 0;
    t = performance.now();
    for (let i = 0; i < READ_N; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const key = (x % WRITE_N) + 1;
      bytes += store.read(2, BigInt(key), key).data.length;
    }
    s = (performance.now() - t) / 1000;
    report(`store read 1 KiB, random (${fmt(READ_N)})`, `${fmt(READ_N / s)} reads/s, ${fmt(bytes / MiB / s, 1)} MiB/s`);

    // fsync=true, 16 concurrent writers sharing group commits, for FSYNC_S seconds.
    const deadline = performance.now() + FSYNC_S * 1000;
    let next = 1;
    let done = 0;
    const syncsBefore = store.syncCount(3);
    t = performance.now();
    const writer = async () => {
      while (performance.now() < deadline) {
        const key = next++;
        await store.write(3, { key: BigInt(key), cookie: key, data: payload }, { fsync: true });
        done++;
      }
    };
    await Promise.all(Array.from({ length: FSYNC_WRITERS }, writer));
    s = (performance.now() - t) / 1000;
    const syncs = store.syncCount(3) - syncsBefore;
    report(
      `store write 1 KiB, fsync=true, ${FSYNC_WRITERS} writers`,
      `${fmt(done / s)} writes/s, ${fmt(syncs)} fdatasyncs for ${fmt(done)} writes (${fmt(done / syncs, 1)} per sync)`,
    );
  } finally {
    await store.close();
  }
}
