import { grpcPortOffset } from "../../common/server-address.js";
import { WeedError } from "../../common/errors.js";
import {
  concurrentDownloadLimitMBDefault,
  concurrentUploadLimitMBDefault,
  fileSizeLimitMBDefault,
  inflightDownloadDataTimeoutMsDefault,
  inflightUploadDataTimeoutMsDefault,
  minFreeSpacePercentDefault,
  heartbeatIntervalMsDefault,
} from "../../volume/limits.js";
import { parseMinFreeSpace, type MinFreeSpace } from "../../volume/storage/disk-space.js";
import { needleCacheBytesDefault } from "../../volume/storage/limits.js";
import { VolumeServer, type VolumeServerConfig } from "../../volume/volume-server.js";
import { isReadMode, READ_MODES, type ReadMode } from "../../volume/replication/remote-read.js";
import { listenFromFlags } from "../bind-address.js";
import { serveUntilSignal, type Command } from "../command.js";
import { logFormatFlag, loggerFromFlags, logLevelFlag, parseAddressList } from "../common-flags.js";
import {
  bool,
  int,
  nonEmptyCheck,
  nonNegativeCheck,
  optionalPortCheck,
  portCheck,
  positiveCheck,
  str,
  UsageError,
  type FlagSpec,
  type FlagValues,
} from "../flags.js";
import { corsFlag, securityFlag, securityFromFlags, whiteListFlag } from "../security-flags.js";

/** SeaweedFS's upload limit default; one needle's data is kept in memory while it is written. */
const fileSizeLimitMBMax = 4096;

const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** A wait longer than a day is a mistake, not a bound. */
const waitMsMax = 86_400_000;

/** A Go duration as SeaweedFS's -inflight*DataTimeout flags take it: "60s", "1m30s", "500ms". */
export function parseDurationMs(text: string): number | undefined {
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
  return Math.round(ms);
}

const waitCheck = (v: string | number | boolean): string | undefined => {
  const ms = typeof v === "string" ? parseDurationMs(v) : undefined;
  if (ms === undefined) return "expected a duration like 60s, 1m30s or 500ms";
  return ms > 0 && ms <= waitMsMax ? undefined : "must be more than 0 and at most 24h";
};

const minFreeSpaceCheck = (v: string | number | boolean): string | undefined => {
  if (v === "") return undefined;
  try {
    parseMinFreeSpace(String(v));
    return undefined;
  } catch (err) {
    if (err instanceof WeedError) return err.message;
    throw err;
  }
};

/** -minFreeSpace when given, else -minFreeSpacePercent (SeaweedFS's util.MustParseMinFreeSpace). */
function minFreeSpaceFromFlags(v: FlagValues, prefix: string): MinFreeSpace {
  const given = str(v, `${prefix}minFreeSpace`);
  return parseMinFreeSpace(given !== "" ? given : str(v, `${prefix}minFreeSpacePercent`));
}

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
  {
    name: "pulseSeconds",
    type: "int",
    default: heartbeatIntervalMsDefault / 1000,
    usage: "seconds between heartbeats to the master; must not be more than the master's -pulseSeconds",
    check: positiveCheck,
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
  {
    name: "needleCacheMB",
    type: "int",
    default: needleCacheBytesDefault / (1024 * 1024),
    usage: "memory for recently read small needles (records up to 64 KiB), 0 turns the cache off",
    check: nonNegativeCheck,
  },
  {
    name: "concurrentUploadLimitMB",
    type: "int",
    default: concurrentUploadLimitMBDefault,
    usage: "limit total concurrent upload size (each upload is held in memory until written), 0 means unlimited",
    check: nonNegativeCheck,
  },
  {
    name: "concurrentDownloadLimitMB",
    type: "int",
    default: concurrentDownloadLimitMBDefault,
    usage: "limit total concurrent download size, 0 means unlimited",
    check: nonNegativeCheck,
  },
  {
    name: "inflightUploadDataTimeout",
    type: "string",
    default: `${inflightUploadDataTimeoutMsDefault / 1000}s`,
    usage: "how long an upload waits for room under -concurrentUploadLimitMB before 503",
    check: waitCheck,
  },
  {
    name: "inflightDownloadDataTimeout",
    type: "string",
    default: `${inflightDownloadDataTimeoutMsDefault / 1000}s`,
    usage: "how long a download waits for room under -concurrentDownloadLimitMB before 503",
    check: waitCheck,
  },
  {
    name: "minFreeSpacePercent",
    type: "string",
    default: minFreeSpacePercentDefault,
    usage: "minimum free disk space in percent; below it all volumes are read-only (deprecated, use -minFreeSpace)",
    check: (v) => (v === "" ? "must not be empty" : minFreeSpaceCheck(v)),
  },
  {
    name: "minFreeSpace",
    type: "string",
    default: "",
    usage:
      "minimum free disk space: a percentage like 1 or 1%, or bytes like 10GiB or 500MB; below it all " +
      "volumes are read-only until space returns (default: -minFreeSpacePercent)",
    check: minFreeSpaceCheck,
  },
  {
    name: "readMode",
    type: "string",
    default: "redirect",
    usage:
      "how a read of a volume this server does not hold is answered: redirect (301 to a server holding it), " +
      "proxy (fetch it from one and stream it back), local (404)",
    check: (v) => (isReadMode(String(v)) ? undefined : `expected one of ${READ_MODES.join(", ")}`),
  },
  securityFlag,
  whiteListFlag,
  corsFlag,
  logLevelFlag,
  logFormatFlag,
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
    heartbeatIntervalMs: int(v, `${prefix}pulseSeconds`) * 1000,
    fileSizeLimitMB: int(v, `${prefix}fileSizeLimitMB`),
    fsync: bool(v, `${prefix}fsync`),
    concurrentUploadLimitMB: int(v, `${prefix}concurrentUploadLimitMB`),
    needleCacheMB: int(v, `${prefix}needleCacheMB`),
    concurrentDownloadLimitMB: int(v, `${prefix}concurrentDownloadLimitMB`),
    inflightUploadDataTimeoutMs: parseDurationMs(str(v, `${prefix}inflightUploadDataTimeout`))!,
    inflightDownloadDataTimeoutMs: parseDurationMs(str(v, `${prefix}inflightDownloadDataTimeout`))!,
    minFreeSpace: minFreeSpaceFromFlags(v, prefix),
    readMode: str(v, `${prefix}readMode`) as ReadMode,
  };
}

export const volumeCommand: Command = {
  name: "volume",
  summary: "Starts a volume server: stores blobs in append-only volume files and serves them over HTTP.",
  flags: volumeFlags,
  async run(flags) {
    const logger = loggerFromFlags(flags.values);
    const masters = parseAddressList("master", str(flags.values, "master"));
    const security = securityFromFlags(flags.values, (w) => logger.warn(w));
    const config: VolumeServerConfig = { ...volumeConfigFromFlags(flags.values, "", masters), logger, security };
    const server = new VolumeServer(config);
    await server.start();
    logger.info(
      { http: `${config.ip}:${server.httpPort}`, grpc: server.grpcPort, dir: config.dir, masters },
      "volume server started",
    );
    return serveUntilSignal([server], logger);
  },
};
