#!/usr/bin/env node
// A fleet of simulated volume servers, for `npm run bench:scale` (issue 15) and its smoke test. Each
// server is the volume server's own heartbeat code (dist/volume/heartbeat-client.js: a full beat on
// connect, one every pulse, leader redirects, the election poll after a lost leader, keepalive) over a
// store that holds no data: it reports `volumes` volumes, each writable and far below the size limit.
// Nothing listens at a server's address (127.1.x.y:8080, gRPC 18080): the master never needs to call a
// volume server to register it, assign to it or look it up, and the bench uploads nothing.
//
// Volume ids: server i (0-based, over all fleets) holds ids i*volumes+1 .. (i+1)*volumes. A leader
// leaves out a volume more than heartbeatMemberVolumeIdAheadMax (1,000) above the replicated
// MaxVolumeId (heartbeat-bounds.ts), so a fresh cluster cannot take 100,000 ids at once. The fleet
// raises MaxVolumeId the way the masters allow: servers start in id order, each only once its highest
// id is within the bound of the MaxVolumeId the masters report (/cluster/status); its accepted beat
// raises the maximum through the Raft log, which lets the next servers in. The servers carry the
// cluster's id from their first beat (as a volume server with cluster.id in its -dir does), which is
// what gives them the member bound. After a failover the new leader has the maximum already and
// takes every report whole.
//
// Started by fork() with the config as JSON in BENCH_SCALE_FLEET:
//   { masters: ["127.0.0.1:9333", ...], first: 0, count: 500, volumes: 100, pulseMs: 5000, clusterId,
//     dir?: where its cluster.id file goes, trace?: record the heartbeat clients' log events }
// Messages: parent -> { cmd: "stats", reset?: true } answered with { type: "stats", ... } (see stats());
// parent -> { cmd: "trace", since: epochMs } answered with { type: "trace", events } (what each server's
// heartbeat client logged since then: the failover breakdown); parent -> { cmd: "stop" }: closes
// every stream and exits. The fleet exits when its parent goes.
//
// Heartbeat latency is measured here, per beat: from the write of a beat on a stream to the next answer
// on it (the master answers every beat after applying it; a volume_locations_changed push is not an
// answer and is not counted). A stream's first beat includes the connection setup and is kept apart.
import { EventEmitter } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";

const ROOT = resolve(import.meta.dirname, "..");
const { HeartbeatClient } = await import(join(ROOT, "dist/volume/heartbeat-client.js"));
const { heartbeatMemberVolumeIdAheadMax } = await import(join(ROOT, "dist/master/limits.js"));
const { LatencyHistogram } = await import(join(ROOT, "dist/benchmark/latency-histogram.js"));
const { silentLogger } = await import(join(ROOT, "dist/common/logger.js"));

/** Between two reads of MaxVolumeId during the ramp: each step is one Raft commit (a few ms). */
const rampPollMs = 25;
/** A master's /cluster/status answer. */
const statusTimeoutMs = 1_000;
/** The ramp as a whole: 1,000 servers take ~100 steps; far more means the cluster is not taking them. */
const rampDeadlineMs = 120_000;
/** Bytes each simulated volume reports: 10 MB, far below any size limit, so every volume is writable. */
const volumeBytes = 10 * 1024 * 1024;
/** Free slots each server reports beyond its volumes (a server with room, as a real one would have). */
const spareSlots = 8;
/** Racks the servers are spread over (by index): a 1,000-server cluster is not one rack. */
const racks = 25;
/**
 * Heartbeat-client log events kept for the parent's failover breakdown ({ cmd: "trace" }): a failover
 * of 1,000 servers logs a few events per server per poll (~10-20k); beyond this the oldest go.
 */
const traceEventsMax = 200_000;

const config = JSON.parse(process.env.BENCH_SCALE_FLEET ?? "null");
if (config === null) {
  console.error("bench-scale-fleet: BENCH_SCALE_FLEET (JSON config) is not set; started by bench-scale.mjs");
  process.exit(2);
}

let rtt = new LatencyHistogram();
let firstRtt = new LatencyHistogram();
let beatsAnswered = 0;
let pushes = 0;

/**
 * Times every beat on every heartbeat stream of this process: grpc-js builds the stream through
 * Client.prototype.makeBidiStreamRequest (src/grpc/adapter.ts calls it on the client instance).
 */
function timeHeartbeatStreams() {
  const make = grpc.Client.prototype.makeBidiStreamRequest;
  grpc.Client.prototype.makeBidiStreamRequest = function (...args) {
    const call = make.apply(this, args);
    const sentAt = [];
    let answers = 0;
    const write = call.write;
    call.write = function (...w) {
      sentAt.push(performance.now());
      return write.apply(this, w);
    };
    call.on("data", (resp) => {
      if (resp.volumeLocationsChanged.length > 0) {
        pushes++;
        return;
      }
      const t = sentAt.shift();
      if (t === undefined) return;
      (answers++ === 0 ? firstRtt : rtt).record(performance.now() - t);
      beatsAnswered++;
    });
    return call;
  };
}

/** A volume server's store as the heartbeat client reads it: fixed volumes, no data. */
class SimulatedStore extends EventEmitter {
  constructor(index, volumes) {
    super();
    this.maxVolumeCount = volumes + spareSlots;
    const rp = { diffDataCenter: 0, diffRack: 0, sameRack: 0 };
    const ttl = { count: 0, unit: 0 };
    this.infos = [];
    for (let k = 1; k <= volumes; k++) {
      const id = index * volumes + k;
      this.infos.push({
        ...{ id, collection: "", replicaPlacement: rp, ttl, size: volumeBytes + id, fileCount: 1000 },
        ...{ deleteCount: 0, deletedByteCount: 0, readOnly: false, version: 3, compactRevision: 0 },
        ...{ modifiedAtSecond: 1_700_000_000, maxFileKey: 0n, needsCheck: false },
      });
    }
  }
  volumeInfos() {
    return this.infos;
  }
  maxFileKey() {
    return 0n;
  }
}

/** Server i's identity: its own loopback address (127.1.0.1 onwards), nothing listening there. */
function identityOf(i) {
  const n = i + 1;
  const ip = `127.1.${(n >> 8) & 255}.${n & 255}`;
  const port = 8080;
  return { ip, port, grpcPort: 18080, publicUrl: "", dataCenter: "dc1", rack: `rack${i % racks}`, id: `${ip}:${port}` };
}

async function maxVolumeId() {
  let best = -1;
  await Promise.all(
    config.masters.map(async (m) => {
      try {
        const r = await fetch(`http://${m}/cluster/status`, { signal: AbortSignal.timeout(statusTimeoutMs) });
        if (r.status === 200) best = Math.max(best, (await r.json()).MaxVolumeId);
      } catch {
        // A master that does not answer (starting, killed) is not asked again until the next poll.
      }
    }),
  );
  return best;
}

const clients = [];
// bench-scale.mjs names a directory inside its own temp dir (removed by it even when this process is
// killed); started alone (the smoke test), the fleet makes one and removes it on stop.
const idDir = config.dir ?? mkdtempSync(join(tmpdir(), "bench-scale-fleet-"));
mkdirSync(idDir, { recursive: true });
const idFile = join(idDir, "cluster.id");
writeFileSync(idFile, `${config.clusterId}\n`);

/** What the heartbeat clients logged, with the wall-clock time (epoch ms, comparable across processes). */
let trace = [];

/**
 * A logger that records each event of server `i` (its message and the master it names) instead of
 * writing it: pino's logMethod hook sees the arguments before any serialization.
 */
function tracingLogger(i) {
  const hooks = {
    logMethod(args) {
      const [fields, msg] = typeof args[0] === "string" ? [{}, args[0]] : [args[0] ?? {}, args[1] ?? ""];
      if (trace.length >= traceEventsMax) trace.splice(0, traceEventsMax / 2);
      const t = performance.timeOrigin + performance.now();
      trace.push({ t, i, msg, master: fields.master ?? "", reason: String(fields.reason ?? "").slice(0, 80) });
    },
  };
  return pino({ level: "debug", hooks }, { write() {} });
}

function startServer(i) {
  const client = new HeartbeatClient({
    store: new SimulatedStore(i, config.volumes),
    identity: identityOf(i),
    masters: config.masters,
    intervalMs: config.pulseMs,
    logger: config.trace === true ? tracingLogger(i) : silentLogger(),
    clusterIdFile: idFile,
    // Volume states of a store with no data never change: checked once a pulse, not every 250 ms,
    // so that the fleet's own CPU goes to the beats.
    stateCheckIntervalMs: config.pulseMs,
  });
  client.start();
  clients.push(client);
}

/** Starts the servers in id order, each once its ids are within the bound (see the header). */
async function ramp() {
  const deadline = performance.now() + rampDeadlineMs;
  let next = config.first;
  const end = config.first + config.count;
  while (next < end) {
    if (performance.now() > deadline) throw new Error(`ramp: ${next - config.first} of ${config.count} started`);
    const max = await maxVolumeId();
    while (next < end && (next + 1) * config.volumes <= max + heartbeatMemberVolumeIdAheadMax) startServer(next++);
    if (next < end) await new Promise((r) => setTimeout(r, rampPollMs));
  }
}

function stats(reset) {
  const pick = (h) => ({ n: h.count, p50: h.percentile(50), p99: h.percentile(99), max: h.max });
  const out = {
    type: "stats",
    started: clients.length,
    connected: clients.filter((c) => c.connected).length,
    beatsAnswered,
    pushes,
    rtt: rtt.count === 0 ? null : pick(rtt),
    firstRtt: firstRtt.count === 0 ? null : pick(firstRtt),
  };
  if (reset) {
    rtt = new LatencyHistogram();
    firstRtt = new LatencyHistogram();
    beatsAnswered = 0;
    pushes = 0;
  }
  return out;
}

async function stop(code) {
  await Promise.all(clients.map((c) => c.close()));
  rmSync(idDir, { recursive: true, force: true });
  process.exit(code);
}

timeHeartbeatStreams();
process.on("message", (msg) => {
  if (msg.cmd === "stats") process.send(stats(msg.reset === true));
  else if (msg.cmd === "trace") {
    process.send({ type: "trace", events: trace.filter((e) => e.t >= (msg.since ?? 0)) });
    trace = [];
  } else if (msg.cmd === "stop") void stop(0);
});
process.on("disconnect", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
ramp().then(
  () => process.send({ type: "ramped", started: clients.length }),
  (err) => {
    process.send({ type: "failed", error: String(err) });
    void stop(1);
  },
);
