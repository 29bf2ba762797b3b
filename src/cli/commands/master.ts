import { grpcPortOffset } from "../../common/server-address.js";
import {
  pulseSecondsDefault,
  repairGraceSecondsDefault,
  repairGraceSecondsMax,
  garbageThresholdDefault,
  vacuumPeriodMsMax,
  vacuumPeriodMsMin,
  volumeSizeLimitMBDefault,
  volumeSizeLimitMBMax,
} from "../../master/limits.js";
import { MasterServer, type MasterConfig } from "../../master/master-server.js";
import { serveUntilSignal, type Command } from "../command.js";
import { durationCheck, parseDurationMs } from "../duration.js";
import { logFormatFlag, loggerFromFlags, logLevelFlag, replicationCheck } from "../common-flags.js";
import {
  int,
  nonEmptyCheck,
  optionalPortCheck,
  portCheck,
  positiveCheck,
  str,
  UsageError,
  type FlagSpec,
  type FlagValues,
} from "../flags.js";
import { listenFromFlags } from "../bind-address.js";
import { masterIdentity } from "../master-peers.js";
import { joinRunningCluster, peerListFromFlags, peersCountFlags } from "../master-peers-by-count.js";
import { corsFlag, securityFlag, securityFromFlags, whiteListFlag } from "../security-flags.js";

export const masterFlags: readonly FlagSpec[] = [
  { name: "port", type: "int", default: 9333, usage: "HTTP listen port", check: portCheck },
  {
    name: "port.grpc",
    type: "int",
    default: 0,
    usage: `gRPC listen port (0 = port+${grpcPortOffset})`,
    check: optionalPortCheck,
  },
  {
    name: "ip",
    type: "string",
    default: "127.0.0.1",
    usage: "address other servers and clients reach this master at (also its identity)",
    check: nonEmptyCheck,
  },
  { name: "ip.bind", type: "string", default: "", usage: "address to listen on (default: -ip)" },
  {
    name: "mdir",
    type: "string",
    default: "./data/master",
    usage: "directory for the master's state (file-key and volume-id reservations; later the Raft log)",
    check: nonEmptyCheck,
  },
  {
    name: "volumeSizeLimitMB",
    type: "int",
    default: volumeSizeLimitMBDefault,
    usage: "a volume at this size stops taking writes",
    check: (v) =>
      typeof v === "number" && v > 0 && v <= volumeSizeLimitMBMax ? undefined : `must be 1-${volumeSizeLimitMBMax}`,
  },
  {
    name: "pulseSeconds",
    type: "int",
    default: pulseSecondsDefault,
    usage:
      "volume servers heartbeat this often; one silent for 3 pulses is dropped " +
      "(a volume server's -pulseSeconds must not be higher)",
    check: positiveCheck,
  },
  {
    name: "repairGraceSeconds",
    type: "int",
    default: repairGraceSecondsDefault,
    usage:
      "the leader copies a volume that has had fewer copies than its replication asks for this long, " +
      "so a restarting volume server is not copied for nothing; 0 = never (volume.fix.replication only)",
    check: (v) =>
      typeof v === "number" && v >= 0 && v <= repairGraceSecondsMax
        ? undefined
        : `must be 0 (off) or 1-${repairGraceSecondsMax} seconds`,
  },
  {
    name: "garbageThreshold",
    type: "float",
    default: garbageThresholdDefault,
    usage: "the leader's automatic vacuum compacts volumes with at least this share of deleted bytes (0-1]",
    check: (v) => (typeof v === "number" && v > 0 && v <= 1 ? undefined : "must be a number in (0, 1]"),
  },
  {
    name: "vacuumPeriod",
    type: "string",
    default: "15m",
    usage: "between the leader's automatic vacuum passes (e.g. 15m, 1h); 0 = none (/vol/vacuum, volume.vacuum only)",
    check: durationCheck(vacuumPeriodMsMin, vacuumPeriodMsMax, true),
  },
  {
    name: "defaultReplication",
    type: "string",
    default: "000",
    usage: 'replica placement when an assign names none ("xyz": other DCs, other racks, same rack)',
    check: replicationCheck,
  },
  {
    name: "peers",
    type: "string",
    default: "",
    usage:
      "a new cluster: every master host:port, this one included, e.g. localhost:9333,localhost:9334,localhost:9335 " +
      "(3 or 5); joining a running cluster: any one of its masters (this one left out); empty = a single master. " +
      "Read on the first start only",
  },
  ...peersCountFlags,
  {
    name: "raft.tickMs",
    type: "int",
    default: 50,
    usage: "Raft tick; heartbeats go out every tick",
    check: positiveCheck,
  },
  {
    name: "raft.electionTicks",
    type: "int",
    default: 6,
    usage: "a follower campaigns after a random [n, 2n) ticks without a leader",
    check: positiveCheck,
  },
  {
    name: "raft.snapshotThreshold",
    type: "int",
    default: 8192,
    usage: "snapshot the state and compact the Raft log every this many entries (etcd's --snapshot-count)",
    check: positiveCheck,
  },
  securityFlag,
  whiteListFlag,
  corsFlag,
  logLevelFlag,
  logFormatFlag,
];

export function masterConfigFromFlags(v: FlagValues, prefix = ""): Omit<MasterConfig, "logger"> {
  const listen = listenFromFlags(v, prefix);
  const { ip, port } = listen;
  const { self, peers, join } = masterIdentity(`${prefix}peers`, peerListFromFlags(v, prefix, ip, port), ip, port);
  const tickMs = int(v, `${prefix}raft.tickMs`);
  const electionTicks = int(v, `${prefix}raft.electionTicks`);
  if (electionTicks < 2)
    throw new UsageError(
      `invalid value ${electionTicks} for flag -${prefix}raft.electionTicks: ` +
        "must be at least 2 (heartbeats go out every tick)",
    );
  return {
    self,
    peers,
    join,
    raft: { tickMs, electionTicks, heartbeatTicks: 1, snapshotThreshold: int(v, `${prefix}raft.snapshotThreshold`) },
    ...listen,
    mdir: str(v, prefix === "" ? "mdir" : `${prefix}dir`),
    volumeSizeLimitMB: int(v, `${prefix}volumeSizeLimitMB`),
    pulseSeconds: int(v, `${prefix}pulseSeconds`),
    repairGraceSeconds: int(v, `${prefix}repairGraceSeconds`),
    garbageThreshold: Number(v[`${prefix}garbageThreshold`]),
    vacuumPeriodMs: parseDurationMs(str(v, `${prefix}vacuumPeriod`))!,
    defaultReplication: str(v, `${prefix}defaultReplication`),
  };
}

export const masterCommand: Command = {
  name: "master",
  summary: "Starts a master: assigns file ids, tracks volume servers, grows volumes.",
  flags: masterFlags,
  async run(flags) {
    const logger = loggerFromFlags(flags.values);
    const security = securityFromFlags(flags.values, (w) => logger.warn(w));
    const derived = await joinRunningCluster(masterConfigFromFlags(flags.values), flags.values, logger);
    const config: MasterConfig = { ...derived, logger, security };
    const master = new MasterServer(config);
    await master.start();
    logger.info(
      { self: master.address, http: master.httpPort, grpc: master.grpcPort, mdir: config.mdir },
      "master listening",
    );
    return serveUntilSignal([master], logger);
  },
};
