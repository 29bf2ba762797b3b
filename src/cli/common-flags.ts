// Flags several commands share, and their conversion to typed values.
import type { LevelWithSilent } from "pino";
import {
  createLogger,
  defaultLogFormat,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
} from "../common/logger.js";
import { parseServerAddress } from "../common/server-address.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import { str, UsageError, type FlagSpec, type FlagValues } from "./flags.js";

export const logLevelFlag: FlagSpec = {
  name: "logLevel",
  type: "string",
  default: "info",
  usage: `log level: ${LOG_LEVELS.join(", ")}`,
  check: (v) =>
    LOG_LEVELS.includes(v as (typeof LOG_LEVELS)[number]) ? undefined : `expected one of ${LOG_LEVELS.join(", ")}`,
};

export const logFormatFlag: FlagSpec = {
  name: "logFormat",
  type: "string",
  default: "",
  usage: "text (lines for a person) or json (one object per line); default text on a terminal, json otherwise",
  check: (v) =>
    v === "" || LOG_FORMATS.includes(v as LogFormat) ? undefined : `expected one of ${LOG_FORMATS.join(", ")}`,
};

/** The process's root logger from -logLevel and -logFormat. */
export function loggerFromFlags(v: FlagValues): Logger {
  const format = str(v, "logFormat");
  return createLogger(
    str(v, "logLevel") as LevelWithSilent,
    format === "" ? defaultLogFormat() : (format as LogFormat),
  );
}

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
