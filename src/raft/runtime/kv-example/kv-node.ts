#!/usr/bin/env node
// The example key-value node as a process (used by test/integration/raft-kill.test.ts and
// scripts/bench-raft.mjs). This entry file is the only place of the example that reads argv.
//
//   node dist/raft/runtime/kv-example/kv-node.js --id 127.0.0.1:7001 \
//     --peers 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 --dir /tmp/n1 --http 127.0.0.1:8001
//
// --id is the node's Raft gRPC address; --peers the initial voters (a new group; omit it and pass
// --join to start a node that an existing leader will add); --http where the HTTP API listens.
// Timing: --tick-ms, --election-ticks, --heartbeat-ticks; --snapshot-threshold entries.
// SIGTERM/SIGINT: a leader hands leadership off first, then the node closes and exits 0.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { RaftRuntime } from "../runtime.js";
import { KvHttpServer } from "./kv-server.js";
import { KvStateMachine, type KvResult } from "./kv-state-machine.js";

const USAGE =
  "usage: kv-node --id HOST:PORT (--peers ID,ID,... | --join) --dir DIR --http [HOST:]PORT " +
  "[--tick-ms N] [--election-ticks N] [--heartbeat-ticks N] [--snapshot-threshold N] [--log-level LEVEL]";

function fail(msg: string): never {
  process.stderr.write(`kv-node: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) fail(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        id: { type: "string" },
        peers: { type: "string" },
        join: { type: "boolean", default: false },
        dir: { type: "string" },
        http: { type: "string" },
        "tick-ms": { type: "string" },
        "election-ticks": { type: "string" },
        "heartbeat-ticks": { type: "string" },
        "snapshot-threshold": { type: "string" },
        "log-level": { type: "string", default: "info" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const id = values.id ?? fail("--id is required");
  const dir = values.dir ?? fail("--dir is required");
  const httpFlag = values.http ?? fail("--http is required");
  if (values.peers === undefined && !values.join) fail("give --peers (a new group) or --join");
  const peers = values.peers
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const httpColon = httpFlag.lastIndexOf(":");
  const httpHost = httpColon < 0 ? "127.0.0.1" : httpFlag.slice(0, httpColon);
  const httpPort = Number(httpColon < 0 ? httpFlag : httpFlag.slice(httpColon + 1));
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535)
    fail(`--http: bad port in ${JSON.stringify(httpFlag)}`);

  const log = pino({ level: values["log-level"], base: { node: id } }, pino.destination(2));
  const sm = new KvStateMachine();
  const tickMs = intFlag("tick-ms", values["tick-ms"]);
  const electionTicks = intFlag("election-ticks", values["election-ticks"]);
  const heartbeatTicks = intFlag("heartbeat-ticks", values["heartbeat-ticks"]);
  const snapshotThreshold = intFlag("snapshot-threshold", values["snapshot-threshold"]);
  const runtime = new RaftRuntime<KvResult>({
    id,
    dir,
    stateMachine: sm,
    ...(peers !== undefined && !values.join ? { bootstrap: peers } : {}),
    ...(tickMs !== undefined ? { tickMs } : {}),
    ...(electionTicks !== undefined ? { electionTicks } : {}),
    ...(heartbeatTicks !== undefined ? { heartbeatTicks } : {}),
    ...(snapshotThreshold !== undefined ? { snapshotThreshold } : {}),
    log: log.child({ component: "raft" }),
  });
  runtime.on("fatal", (err) => {
    log.fatal({ err: err.message }, "raft runtime failed; exiting");
    process.exit(1);
  });
  await runtime.start();
  const http = new KvHttpServer(runtime, sm);
  const boundHttp = await http.listen(httpHost, httpPort);
  log.info({ http: `${httpHost}:${boundHttp}`, raft: id }, "kv-node: listening");

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "kv-node: stopping");
    const hardStop = setTimeout(() => process.exit(1), 10_000);
    hardStop.unref();
    void (async () => {
      await runtime.close({ transferLeadership: true });
      await http.close();
      process.exit(0);
    })();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`kv-node: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
