// `volume.mark -volumeId=N -readonly|-writable [-node=host:port]` and `volume.delete -volumeId=N
// -node=host:port` (SeaweedFS weed/shell/command_volume_mark.go, command_volume_delete.go): one
// gRPC call per replica, to the servers the master lists for the volume. volume.mark marks every
// replica unless -node names one (SeaweedFS needs -node; a volume whose replicas disagree is not
// writable anyway), and persists the mark across the server's restarts. The master hears of it
// with the server's next state check (volume-state-watch.ts), a fraction of a second.
import { VolumeServer } from "../../gen/volume_server_pb.js";
import { createClient } from "../../grpc/adapter.js";
import type { CommandIo } from "../command.js";
import { readCluster, type NodeView } from "./cluster-topology.js";

/** One mark or delete call; a server that does not answer in this long is reported. */
const volumeCallTimeoutMs = 30_000;

/** The servers holding `volumeId` (all of them, or the one named by `node`); throws when none. */
async function holdersOf(master: string, volumeId: number, node: string): Promise<NodeView[]> {
  const cluster = await readCluster(master);
  const holders = cluster.nodes.filter((n) => n.volumes.some((v) => v.id === volumeId));
  if (node === "") {
    if (holders.length === 0) throw new Error(`volume ${volumeId} not found in the topology`);
    return holders;
  }
  const named = holders.find((n) => n.url === node);
  if (named !== undefined) return [named];
  const server = cluster.nodes.find((n) => n.url === node);
  if (server === undefined) throw new Error(`volume server ${node} not found in the topology`);
  throw new Error(`volume ${volumeId} not found on ${node}`);
}

async function onServer<T>(
  n: NodeView,
  fn: (c: ReturnType<typeof createClient<typeof VolumeServer>>) => Promise<T>,
): Promise<T> {
  const client = createClient(VolumeServer, n.grpcAddress);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export interface MarkOptions {
  volumeId: number;
  readOnly: boolean;
  node: string;
}

/** Returns false when some replica could not be marked (each failure written to io.err). */
export async function markVolume(master: string, o: MarkOptions, io: CommandIo): Promise<boolean> {
  const holders = await holdersOf(master, o.volumeId, o.node);
  const state = o.readOnly ? "readonly" : "writable";
  let ok = true;
  for (const n of holders) {
    try {
      await onServer<unknown>(n, (c) =>
        o.readOnly
          ? c.volumeMarkReadonly({ volumeId: o.volumeId, persist: true }, { timeoutMs: volumeCallTimeoutMs })
          : c.volumeMarkWritable({ volumeId: o.volumeId }, { timeoutMs: volumeCallTimeoutMs }),
      );
      io.out.write(`volume ${o.volumeId} on ${n.url} marked ${state}\n`);
    } catch (err) {
      ok = false;
      io.err.write(`volume ${o.volumeId} on ${n.url}: ${(err as Error).message}\n`);
    }
  }
  return ok;
}

/** Deletes the replica of `volumeId` on `node` (whether empty or not). */
export async function deleteVolume(master: string, volumeId: number, node: string, io: CommandIo): Promise<void> {
  const [n] = await holdersOf(master, volumeId, node);
  await onServer(n!, (c) => c.volumeDelete({ volumeId, onlyEmpty: false }, { timeoutMs: volumeCallTimeoutMs }));
  io.out.write(`volume ${volumeId} deleted from ${n!.url}\n`);
}
