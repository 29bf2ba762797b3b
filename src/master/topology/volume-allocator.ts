// The master's calls to volume servers during growth: AllocateVolume, and VolumeDelete to undo a
// half-made volume. One gRPC client per volume server, kept while the server is registered.
import { createClient, type ServiceClient } from "../../grpc/adapter.js";
import { VolumeServer } from "../../gen/volume_server_pb.js";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { DataNode } from "./data-node.js";

export interface AllocateRequest {
  volumeId: number;
  collection: string;
  /** "xyz" text. */
  replication: string;
  /** "3m" style, "" for none. */
  ttl: string;
  preallocate: number;
  memoryMapMaxSizeMb: number;
  diskType: string;
}

/** The seam growth uses, so tests of placement logic need no network. */
export interface VolumeAllocator {
  allocate(node: DataNode, req: AllocateRequest, signal: AbortSignal): Promise<void>;
  remove(node: DataNode, volumeId: number, signal: AbortSignal): Promise<void>;
  /** Drops the cached client of a server that left. */
  forget(node: DataNode): void;
  close(): void;
}

type VolumeClient = ServiceClient<typeof VolumeServer>;

export class GrpcVolumeAllocator implements VolumeAllocator {
  private readonly clients = new Map<string, VolumeClient>();

  async allocate(node: DataNode, req: AllocateRequest, signal: AbortSignal): Promise<void> {
    try {
      await this.client(node).allocateVolume(
        {
          volumeId: req.volumeId,
          collection: req.collection,
          preallocate: BigInt(req.preallocate),
          replication: req.replication,
          ttl: req.ttl,
          memoryMapMaxSizeMb: req.memoryMapMaxSizeMb,
          diskType: req.diskType,
        },
        { signal },
      );
    } catch (err) {
      throw callFailed(`allocate volume ${req.volumeId} on ${node.id}`, err, signal);
    }
  }

  async remove(node: DataNode, volumeId: number, signal: AbortSignal): Promise<void> {
    try {
      await this.client(node).volumeDelete({ volumeId, onlyEmpty: true }, { signal });
    } catch (err) {
      throw callFailed(`delete volume ${volumeId} on ${node.id}`, err, signal);
    }
  }

  forget(node: DataNode): void {
    const c = this.clients.get(node.grpcAddress);
    if (c === undefined) return;
    this.clients.delete(node.grpcAddress);
    c.close();
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(node: DataNode): VolumeClient {
    let c = this.clients.get(node.grpcAddress);
    if (c === undefined) {
      c = createClient(VolumeServer, node.grpcAddress);
      this.clients.set(node.grpcAddress, c);
    }
    return c;
  }
}

function callFailed(what: string, err: unknown, signal: AbortSignal): WeedError {
  const detail = err instanceof Error ? err.message : String(err);
  const code =
    signal.aborted && signal.reason instanceof DOMException && signal.reason.name === "TimeoutError"
      ? ErrorCode.TIMEOUT
      : ErrorCode.UNAVAILABLE;
  return new WeedError(code, `${what} failed: ${detail}`, { cause: err });
}
