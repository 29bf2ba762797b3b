import { loggerFromFlags } from "../common-flags.js";
import { join } from "node:path";
import { grpcPortOffset } from "../../common/server-address.js";
import { MasterServer } from "../../master/master-server.js";
import { VolumeServer } from "../../volume/volume-server.js";
import { serveUntilSignal, type Command } from "../command.js";
import { str, type FlagSpec } from "../flags.js";
import { securityFromFlags } from "../security-flags.js";
import { masterConfigFromFlags, masterFlags } from "./master.js";
import { volumeConfigFromFlags, volumeFlags } from "./volume.js";

// One security.toml, white list and CORS list for both servers of the process, as SeaweedFS's
// `weed server -whiteList`.
const SECURITY = ["security", "whiteList", "cors.allowedOrigins"];
const SHARED = new Set(["ip", "ip.bind", "dir", "dataCenter", "rack", "logLevel", "logFormat", ...SECURITY]);

function prefixed(prefix: string, specs: readonly FlagSpec[], skip: ReadonlySet<string>): FlagSpec[] {
  return specs
    .filter((s) => !SHARED.has(s.name) && !skip.has(s.name))
    .map(({ aliases: _aliases, ...s }) => ({ ...s, name: `${prefix}${s.name}` }));
}

const serverFlags: readonly FlagSpec[] = [
  ...masterFlags.filter((s) => ["ip", "ip.bind", "logLevel", "logFormat", ...SECURITY].includes(s.name)),
  {
    name: "dir",
    type: "string",
    default: "./data",
    usage: "directory for volume files; the master keeps its state in <dir>/master unless -master.dir is given",
  },
  { name: "dataCenter", type: "string", default: "", usage: "data center name of the volume server" },
  { name: "rack", type: "string", default: "", usage: "rack name of the volume server" },
  { name: "master.dir", type: "string", default: "", usage: "directory for the master's state (default <dir>/master)" },
  ...prefixed("master.", masterFlags, new Set(["mdir"])),
  ...prefixed("volume.", volumeFlags, new Set(["master"])),
];

export const serverCommand: Command = {
  name: "server",
  summary: "Starts a master and a volume server in one process (the quick start).",
  flags: serverFlags,
  async run(flags) {
    const v = { ...flags.values };
    if (str(v, "master.dir") === "") v["master.dir"] = join(str(v, "dir"), "master");
    const logger = loggerFromFlags(v);
    const security = securityFromFlags(v, (w) => logger.warn(w));
    const masterCfg = masterConfigFromFlags(v, "master.");
    const grpcSuffix = masterCfg.grpcPort === masterCfg.port + grpcPortOffset ? "" : `.${masterCfg.grpcPort}`;
    // The volume server may heartbeat to any master: a follower names the leader.
    const others = [...(masterCfg.peers ?? []), ...(masterCfg.join ?? [])].filter((p) => p !== masterCfg.self);
    const masters = [`${masterCfg.self ?? `${masterCfg.ip}:${masterCfg.port}`}${grpcSuffix}`, ...others];
    const master = new MasterServer({ ...masterCfg, logger, security });
    const volume = new VolumeServer({ ...volumeConfigFromFlags(v, "volume.", masters), logger, security });
    await master.start();
    await volume.start();
    logger.info(
      {
        master: `${masterCfg.ip}:${master.httpPort}`,
        volume: `${masterCfg.ip}:${volume.httpPort}`,
        dir: str(v, "dir"),
      },
      "server started",
    );
    return serveUntilSignal([master, volume], logger);
  },
};
