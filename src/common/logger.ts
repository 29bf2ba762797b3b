// pino logs. One root logger per process, one child per component (`component: "master"`).
// On a terminal they are lines a person reads (time, level name, component, message, then the
// other fields), through pino-pretty synchronously (no worker thread); otherwise, or with
// -logFormat=json, one JSON object per line for a collector, with the level's name
// ("level":"warn") rather than pino's number, which every operator would have to look up.
import { pino, type Logger, type LevelWithSilent } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** text on a terminal, json otherwise: what `-logFormat` defaults to. */
export function defaultLogFormat(): LogFormat {
  return process.stdout.isTTY === true ? "text" : "json";
}

export function createLogger(level: LevelWithSilent = "info", format: LogFormat = defaultLogFormat()): Logger {
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === "json") return pino({ ...options, formatters: { level: (label: string) => ({ level: label }) } });
  const pretty = PinoPretty({
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    ignore: "pid,component",
    singleLine: true,
    messageFormat: "{if component}[{component}] {end}{msg}",
  });
  return pino(options, pretty);
}

/** A logger that drops everything: for unit tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
