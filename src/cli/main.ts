// The weed-ts command line: `weed-ts <command> [flags]`. The only module that reads argv.
import { benchmarkCommand } from "./commands/benchmark.js";
import { masterRaftCommand } from "./commands/master-raft.js";
import { masterCommand } from "./commands/master.js";
import { scaffoldCommand } from "./commands/scaffold.js";
import { serverCommand } from "./commands/server.js";
import { shellCommand } from "./commands/shell.js";
import { volumeCommand } from "./commands/volume.js";
import { uploadCommand } from "./commands/upload.js";
import { downloadCommand } from "./commands/download.js";
import type { Command, CommandIo } from "./command.js";
import { formatUsage, parseFlags, UsageError } from "./flags.js";
import { VERSION } from "./version.js";
import { WeedError } from "../common/errors.js";
import { GrpcBindError } from "../grpc/adapter.js";
import * as grpc from "@grpc/grpc-js";

const versionCommand: Command = {
  name: "version",
  summary: "Prints the version.",
  flags: [],
  async run(_flags, io) {
    io.out.write(`weed-ts ${VERSION} (node ${process.version})\n`);
    return 0;
  },
};

const COMMANDS: readonly Command[] = [
  masterCommand,
  masterRaftCommand,
  volumeCommand,
  serverCommand,
  shellCommand,
  uploadCommand,
  downloadCommand,
  benchmarkCommand,
  scaffoldCommand,
  versionCommand,
];

function topUsage(): string {
  const lines = [
    "weed-ts: a SeaweedFS-style distributed blob store",
    "",
    "Usage: weed-ts <command> [flags]",
    "",
    "Commands:",
  ];
  for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push("", 'Run "weed-ts <command> -h" for the flags of a command.');
  return lines.join("\n") + "\n";
}

/** Exit status 2 for usage errors, as Go's flag package (and SeaweedFS) do. */
const EXIT_USAGE = 2;

export async function main(
  argv: readonly string[],
  io: CommandIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  // grpc-js prints its own "E ..." lines for what weed-ts reports itself (a bind failure is the
  // one-line refusal below; failed calls are handled and logged by their callers). GRPC_VERBOSITY
  // still turns them on for debugging.
  if (process.env.GRPC_VERBOSITY === undefined) grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "-help" || name === "--help" || name === "help") {
    (name === undefined ? io.err : io.out).write(topUsage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === "-version" || name === "--version")
    return versionCommand.run({ values: {}, set: new Set(), positional: [], help: false }, io);
  const cmd = COMMANDS.find((c) => c.name === name);
  if (cmd === undefined) {
    io.err.write(`weed-ts: unknown command ${JSON.stringify(name)}\n\n${topUsage()}`);
    return EXIT_USAGE;
  }
  const usage = formatUsage(cmd.name, cmd.summary, cmd.flags);
  try {
    const flags = parseFlags(cmd.flags, rest, { endAtArgument: cmd.flagsEndAtArgument === true });
    if (flags.help) {
      io.out.write(usage);
      return 0;
    }
    if (flags.positional.length > 0 && cmd.acceptsArguments !== true)
      throw new UsageError(`unexpected argument ${JSON.stringify(flags.positional[0])}`);
    return await cmd.run(flags, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`weed-ts ${cmd.name}: ${err.message}\n\n${usage}`);
      return EXIT_USAGE;
    }
    // An expected refusal (a directory in use, a port taken): its message says it all.
    const refusal = refusalOf(err);
    if (refusal !== null) {
      io.err.write(`weed-ts ${cmd.name}: ${refusal}\n`);
      return 1;
    }
    throw err;
  }
}

/** Operating-system errors a start can meet; their messages name the address or path. */
const SYSTEM_REFUSALS: ReadonlySet<string> = new Set([
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "EACCES",
  "EPERM",
  "ENOENT",
  "ENOTDIR",
  "EEXIST",
  "EROFS",
  "ENOSPC",
]);

/** The one line for an error the operator can act on, or null for a bug (which keeps its stack). */
function refusalOf(err: unknown): string | null {
  if (err instanceof WeedError || err instanceof GrpcBindError) return err.message;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (err instanceof Error && typeof code === "string" && SYSTEM_REFUSALS.has(code)) return err.message;
  return null;
}
