// Flags several commands share, and their conversion to typed values.
import { LOG_LEVELS } from "../common/logger.js";
import { parseServerAddress } from "../common/server-address.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import { UsageError, type FlagSpec } from "./flags.js";

export const logLevelFlag: FlagSpec = {
  name: "logLevel",
  type: "string",
  default: "info",
  usage: `log level: ${LOG_LEVELS.join(", ")}`,
  check: (v) =>
    LOG_LEVELS.includes(v as (typeof LOG_LEVELS)[number]) ? undefined : `expected one of ${LOG_LEVELS.join(", ")}`,
};

export const replicationCheck = (v: string | number | boolean): string | undefined => {
  try {
    parseReplicaPlacement(String(v));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

/** A comma list of "host:port[.grpcPort]"; the flag is named in any error. */
export function parseAddressList(flag: string, text: string): string[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const item of items) {
    try {
      parseServerAddress(item);
    } catch (err) {
      throw new UsageError(`invalid value ${JSON.stringify(text)} for flag -${flag}: ${(err as Error).message}`);
    }
  }
  return items;
}
