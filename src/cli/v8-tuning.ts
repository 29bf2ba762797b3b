// V8 settings for the commands that serve blobs, set before any other module of weed-ts loads:
// bin/weed-ts.js imports this file first, so that no inline cache has gone megamorphic yet.
//
// A volume server runs node:http, gRPC (heartbeats, copies) and undici (replication) in one
// process, and Node's stream and http code sees all of their objects: with V8's default of 4 maps
// per polymorphic inline cache, its hot sites go megamorphic (a global stub-cache probe per
// property load), which a bare node:http server never pays. 16 keeps them polymorphic. Measured
// with bench:blob (same build with and without, rounds alternating, 3 runs): GET +6-7%, PUT
// +9-13% req/s; 32 was no better, 8 not measurably better than 4. Not for masters: the Raft
// benchmark at 64 in flight ran 10-30% slower with it in 2 of 2 runs (grpc-js sites with more
// shapes than that), so `master` keeps V8's default.
import { setFlagsFromString } from "node:v8";

const POLYMORPHIC_FLAG = "--max-valid-polymorphic-map-count";
/** Maps a polymorphic inline cache tracks in a blob-serving process (V8's default is 4). */
export const blobPolymorphicMapCount = 16;
/** The commands whose process serves blobs (`server` runs a volume server beside its master). */
const BLOB_COMMANDS: ReadonlySet<string> = new Set(["volume", "server"]);

/**
 * The V8 flag to set for `command`, or undefined: not a blob-serving command, or the operator
 * set the flag (node's own arguments or NODE_OPTIONS, in either spelling), which then stands.
 */
export function v8FlagsFor(
  command: string | undefined,
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string | undefined {
  if (command === undefined || !BLOB_COMMANDS.has(command)) return undefined;
  const given = [...execArgv, ...(nodeOptions ?? "").split(/\s+/)].some((a) =>
    a.replaceAll("_", "-").startsWith(POLYMORPHIC_FLAG),
  );
  return given ? undefined : `${POLYMORPHIC_FLAG}=${blobPolymorphicMapCount}`;
}

const flags = v8FlagsFor(process.argv[2], process.execArgv, process.env.NODE_OPTIONS);
if (flags !== undefined) setFlagsFromString(flags);
