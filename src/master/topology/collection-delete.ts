// /col/delete (SeaweedFS master_server_handlers_admin.go collectionDeleteHandler): DeleteCollection
// on every volume server holding a volume of the collection, all at once, then the collection's
// volumes and layouts leave the topology. A server that fails leaves the topology as it was (its
// next heartbeat shows what it still holds; running /col/delete again finishes the job).
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { VolumeServer } from "../../gen/volume_server_pb.js";
import { createClient } from "../../grpc/adapter.js";
import type { DataNode } from "./data-node.js";
import type { Topology } from "./topology.js";

/**
 * One server's DeleteCollection: closing and unlinking a few files per volume, milliseconds each;
 * a server holding hundreds of the collection's volumes on a slow disk still ends well within.
 */
export const collectionDeleteTimeoutMs = 60_000;

export type DeleteCollectionCall = (node: DataNode, collection: string, timeoutMs: number) => Promise<void>;

export const grpcDeleteCollection: DeleteCollectionCall = async (node, collection, timeoutMs) => {
  const client = createClient(VolumeServer, node.grpcAddress);
  try {
    await client.deleteCollection({ collection }, { timeoutMs });
  } finally {
    client.close();
  }
};

export interface CollectionDeleted {
  servers: string[];
  volumeIds: number[];
}

/** Throws BAD_REQUEST for a collection with no volume, INTERNAL (500, as SeaweedFS) naming the servers that failed. */
export async function deleteCollection(
  topology: Topology,
  collection: string,
  call: DeleteCollectionCall,
  logger: Logger,
): Promise<CollectionDeleted> {
  if (collection === "")
    throw new WeedError(ErrorCode.BAD_REQUEST, "collection name required (the default collection is not deleted)");
  const nodes = topology.collectionNodes(collection);
  if (nodes.length === 0) throw new WeedError(ErrorCode.BAD_REQUEST, `collection ${collection} does not exist`);
  const settled = await Promise.allSettled(nodes.map((n) => call(n, collection, collectionDeleteTimeoutMs)));
  const failed = nodes
    .map((n, i) => ({ n, s: settled[i]! }))
    .filter((x): x is { n: DataNode; s: PromiseRejectedResult } => x.s.status === "rejected");
  if (failed.length > 0) {
    const why = failed.map((f) => `${f.n.id}: ${(f.s.reason as Error).message}`).join("; ");
    throw new WeedError(ErrorCode.INTERNAL, `deleting collection ${collection} failed on ${why}`);
  }
  const volumeIds = topology.dropCollection(collection);
  const servers = nodes.map((n) => n.id).sort();
  logger.info({ collection, servers, volumeIds }, "collection deleted");
  return { servers, volumeIds };
}
