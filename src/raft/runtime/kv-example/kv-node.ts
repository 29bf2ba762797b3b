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
import { pino, type Logger } from "pino";
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

interface NodeFlags {
  id: string;
  dir: string;
  http: { host: string; port: number };
  /** The initial voters of a new group; undefined with --join. */
  bootstrap: string[] | undefined;
  tickMs: number | undefined;
  electionTicks: number | undefined;
  heartbeatTicks: number | undefined;
  snapshotThreshold: number | undefined;
  logLevel: string;
}

/** The flags, checked; null when --help asked for the usage only. */
function parseFlags(): NodeFlags | null {
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
  if (values.help) return null;
  const id = values.id ?? fail("--id is required");
  const dir = values.dir ?? fail("--dir is required");
  const httpFlag = values.http ?? fail("--http is required");
  if (values.peers === undefined && !values.join) fail("give --peers (a new group) or --join");
  const peers = values.peers
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return {
    id,
    dir,
    http: parseHttpFlag(httpFlag),
    bootstrap: values.join ? undefined : peers,
    tickMs: intFlag("tick-ms", values["tick-ms"]),
    electionTicks: intFlag("election-ticks", values["election-ticks"]),
    heartbeatTicks: intFlag("heartbeat-ticks", values["heartbeat-ticks"]),
    snapshotThreshold: intFlag("snapshot-threshold", values["snapshot-threshold"]),
    logLevel: values["log-level"],
  };
}

/** "[HOST:]PORT", the host 127.0.0.1 when omitted. */
function parseHttpFlag(flag: string): { host: string; port: number } {
  const colon = flag.lastIndexOf(":");
  const host = colon < 0 ? "127.0.0.1" : flag.slice(0, colon);
  const port = Number(colon < 0 ? flag : flag.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--http: bad port in ${JSON.stringify(flag)}`);
  return { host, port };
}

/** SIGTERM/SIGINT: close the runtime (a leader hands off first) and the HTTP server, then exit 0. */
function stopOnSignals(log: Logger, runtime: RaftRuntime<KvResult>, http: KvHttpServer): void {
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

async function main(): Promise<void> {
  const flags = parseFlags();
  if (flags === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { id, tickMs, electionTicks, heartbeatTicks, snapshotThreshold } = flags;
  const log = pino({ level: flags.logLevel, base: { node: id } }, pino.destination(2));
  const sm = new KvStateMachine();
  const runtime = new RaftRuntime<KvResult>({
    id,
    dir: flags.dir,
    stateMachine: sm,
    ...(flags.bootstrap !== undefined ? { bootstrap: flags.bootstrap } : {}),
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
  const boundHttp = await http.listen(flags.http.host, flags.http.port);
  log.info({ http: `${flags.http.host}:${boundHttp}`, raft: id }, "kv-node: listening");
  stopOnSignals(log, runtime, http);
}

main().catch((err: unknown) => {
  process.stderr.write(`kv-node: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
