// What a subcommand is, and the shared life of a long-running server process.
import type { FlagSpec, ParsedFlags } from "./flags.js";
import type { Logger } from "../common/logger.js";

export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export interface Command {
  name: string;
  summary: string;
  flags: readonly FlagSpec[];
  /** Takes words after the flags (a shell command); others refuse them. */
  acceptsArguments?: boolean;
  /**
   * Flags end at the first argument: the rest (flags included) are the arguments, as Go's flag
   * package reads them. For commands whose arguments carry flags of their own (`shell
   * cluster.raft.add -id=...`).
   */
  flagsEndAtArgument?: boolean;
  /** Resolves with the exit status. Throws UsageError for a bad combination of flags. */
  run(flags: ParsedFlags, io: CommandIo): Promise<number>;
}

export interface Closable {
  close(): Promise<void>;
}

/** How long a SIGTERM'd process may take to drain before it exits anyway. */
const shutdownGraceMs = 10_000;

/**
 * Keeps the process up until SIGINT/SIGTERM, then closes `parts` in reverse start order.
 * A second signal exits at once.
 */
export function serveUntilSignal(parts: readonly Closable[], logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, "shutting down");
      const timer = setTimeout(() => {
        logger.error({ graceMs: shutdownGraceMs }, "shutdown took too long: exiting");
        process.exit(1);
      }, shutdownGraceMs);
      timer.unref();
      (async () => {
        for (const p of [...parts].reverse()) {
          try {
            await p.close();
          } catch (err) {
            logger.error({ err }, "error while closing");
          }
        }
        clearTimeout(timer);
        logger.info("stopped");
        resolve(0);
      })();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
