import type { LevelWithSilent } from "pino";
import { createLogger } from "../../common/logger.js";
import { grpcPortOffset } from "../../common/server-address.js";
import { fileSizeLimitMBDefault } from "../../volume/limits.js";
import { VolumeServer, type VolumeServerConfig } from "../../volume/volume-server.js";
import { listenFromFlags } from "../bind-address.js";
import { serveUntilSignal, type Command } from "../command.js";
import { logLevelFlag, parseAddressList } from "../common-flags.js";
import {
  bool,
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

/** SeaweedFS's upload limit default; one needle's data is kept in memory while it is written. */
const fileSizeLimitMBMax = 4096;

export const volumeFlags: readonly FlagSpec[] = [
  { name: "port", type: "int", default: 8080, usage: "HTTP listen port", check: portCheck },
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
    usage: "address masters and clients reach this server at",
    check: nonEmptyCheck,
  },
  { name: "ip.bind", type: "string", default: "", usage: "address to listen on (default: -ip)" },
  { name: "publicUrl", type: "string", default: "", usage: "address clients are sent to for reads (default ip:port)" },
  {
    name: "dir",
    type: "string",
    default: "./data/volume",
    usage: "directory for volume files (.dat, .idx)",
    check: nonEmptyCheck,
  },
  { name: "max", type: "int", default: 8, usage: "maximum number of volumes on this server", check: positiveCheck },
  {
    name: "master",
    aliases: ["mserver"],
    type: "string",
    default: "localhost:9333",
    usage: "comma list of masters host:port",
    check: nonEmptyCheck,
  },
  { name: "dataCenter", type: "string", default: "", usage: "data center name, for replica placement" },
  { name: "rack", type: "string", default: "", usage: "rack name, for replica placement" },
  {
    name: "fileSizeLimitMB",
    type: "int",
    default: fileSizeLimitMBDefault,
    usage: "largest upload accepted",
    check: (v) =>
      positiveCheck(v) ??
      (typeof v === "number" && v <= fileSizeLimitMBMax ? undefined : `must be at most ${fileSizeLimitMBMax}`),
  },
  {
    name: "fsync",
    type: "bool",
    default: false,
    usage: "fsync every write before answering (concurrent writes share one fsync)",
  },
  logLevelFlag,
];

export function volumeConfigFromFlags(
  v: FlagValues,
  prefix: string,
  masters: string[],
): Omit<VolumeServerConfig, "logger"> {
  if (masters.length === 0) throw new UsageError(`flag -master: no master address given`);
  return {
    ...listenFromFlags(v, prefix),
    publicUrl: str(v, `${prefix}publicUrl`),
    dir: str(v, "dir"),
    max: int(v, `${prefix}max`),
    masters,
    dataCenter: str(v, "dataCenter"),
    rack: str(v, "rack"),
    fileSizeLimitMB: int(v, `${prefix}fileSizeLimitMB`),
    fsync: bool(v, `${prefix}fsync`),
  };
}

export const volumeCommand: Command = {
  name: "volume",
  summary: "Starts a volume server: stores blobs in append-only volume files and serves them over HTTP.",
  flags: volumeFlags,
  async run(flags) {
    const logger = createLogger(str(flags.values, "logLevel") as LevelWithSilent);
    const masters = parseAddressList("master", str(flags.values, "master"));
    const config: VolumeServerConfig = { ...volumeConfigFromFlags(flags.values, "", masters), logger };
    const server = new VolumeServer(config);
    await server.start();
    logger.info(
      { http: `${config.ip}:${server.httpPort}`, grpc: server.grpcPort, dir: config.dir, masters },
      "volume server started",
    );
    return serveUntilSignal([server], logger);
  },
};
