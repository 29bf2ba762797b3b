// The calls volume.check.disk makes to one replica: its needs-check state, its needle set, one raw
// needle out or in (gRPC), and a local-only delete (HTTP `?type=replicate`, as a replicated
// delete reaches a replica, so nothing is forwarded further).
import { request } from "undici";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { formatKeyCookie } from "../../common/fid.js";
import { bearer, type FidTokenKey } from "../../common/security/jwt.js";
import { VolumeServer, type VolumeNeedleListResponse } from "../../gen/volume_server_pb.js";
import { createClient, type CallOptions, type ServiceClient } from "../../grpc/adapter.js";
import type { NeedleMeta } from "./check-diff.js";
import {
  checkBlobBytesMax,
  checkCallTimeoutMs,
  checkListEntriesMax,
  checkListTimeoutMs,
  checkReceiveBytesMax,
  checkWriteTimeoutMs,
} from "./check-limits.js";
import { httpOrigin } from "../../common/security/https.js";

/** A replica of the volume being checked: its HTTP address (ip:port) and its gRPC address (host:grpcPort). */
export interface ReplicaEndpoint {
  url: string;
  grpcAddress: string;
}

/** A call to a replica failed: the check cannot go on for this volume, or one action failed. */
export class CheckCallError extends WeedError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(ErrorCode.UNAVAILABLE, message, options);
    this.name = "CheckCallError";
  }
}

function opts(timeoutMs: number, signal: AbortSignal | undefined): CallOptions {
  return signal === undefined ? { timeoutMs } : { timeoutMs, signal };
}

function failed(what: string, r: ReplicaEndpoint, err: unknown): CheckCallError {
  return new CheckCallError(`${what} on ${r.url}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

export class ReplicaCalls {
  readonly endpoint: ReplicaEndpoint;
  readonly #client: ServiceClient<typeof VolumeServer>;
  readonly #signal: AbortSignal | undefined;
  readonly #tokens: FidTokenKey | undefined;

  /** `tokens`: the [jwt.signing] key a secured cluster's volume servers want deletes signed with. */
  constructor(endpoint: ReplicaEndpoint, signal: AbortSignal | undefined, tokens?: FidTokenKey) {
    this.endpoint = endpoint;
    this.#client = createClient(VolumeServer, endpoint.grpcAddress, {
      "grpc.max_receive_message_length": checkReceiveBytesMax,
    });
    this.#signal = signal;
    this.#tokens = tokens;
  }

  close(): void {
    this.#client.close();
  }

  async checkState(volumeId: number): Promise<{ needsCheck: boolean; generation: bigint }> {
    try {
      return await this.#client.volumeCheckState({ volumeId }, opts(checkCallTimeoutMs, this.#signal));
    } catch (err) {
      throw failed(`VolumeCheckState of volume ${volumeId}`, this.endpoint, err);
    }
  }

  /**
   * Clears the replica's flag if `generation` is still its generation; resolves with whether the
   * flag is still set afterwards (a newer failure came during the check).
   */
  async checkDone(volumeId: number, generation: bigint): Promise<{ stillNeedsCheck: boolean }> {
    try {
      const r = await this.#client.volumeCheckDone({ volumeId, generation }, opts(checkCallTimeoutMs, this.#signal));
      return { stillNeedsCheck: r.needsCheck };
    } catch (err) {
      throw failed(`VolumeCheckDone of volume ${volumeId}`, this.endpoint, err);
    }
  }

  /** The replica's needle set: every key with its newest record, tombstones included. */
  async needles(volumeId: number): Promise<Map<bigint, NeedleMeta>> {
    const out = new Map<bigint, NeedleMeta>();
    try {
      const call = this.#client.volumeNeedleList({ volumeId }, opts(checkListTimeoutMs, this.#signal));
      for await (const msg of call as AsyncIterable<VolumeNeedleListResponse>) {
        for (const n of msg.needles) {
          out.set(n.needleId, {
            key: n.needleId,
            cookie: n.cookie,
            offset: Number(n.offset),
            size: n.size,
            deleted: n.deleted,
            crc: n.crc,
            appendAtNs: n.appendAtNs,
          });
        }
        if (out.size > checkListEntriesMax) {
          call.cancel();
          throw new WeedError(ErrorCode.TOO_LARGE, `more than ${checkListEntriesMax} needles listed`);
        }
      }
    } catch (err) {
      throw failed(`listing the needles of volume ${volumeId}`, this.endpoint, err);
    }
    return out;
  }

  async readBlob(volumeId: number, n: NeedleMeta): Promise<Uint8Array> {
    try {
      const r = await this.#client.readNeedleBlob(
        { volumeId, offset: BigInt(n.offset), size: n.size },
        opts(checkCallTimeoutMs, this.#signal),
      );
      return r.needleBlob;
    } catch (err) {
      throw failed(`reading needle ${n.key.toString(16)} of volume ${volumeId}`, this.endpoint, err);
    }
  }

  async writeBlob(volumeId: number, n: NeedleMeta, blob: Uint8Array): Promise<void> {
    try {
      await this.#client.writeNeedleBlob(
        { volumeId, needleId: n.key, size: n.size, needleBlob: blob },
        opts(checkWriteTimeoutMs, this.#signal),
      );
    } catch (err) {
      throw failed(`writing needle ${n.key.toString(16)} of volume ${volumeId}`, this.endpoint, err);
    }
  }

  /** Deletes the needle on this replica only; absent already (404) is as good. */
  async deleteLocal(volumeId: number, key: bigint, cookie: number): Promise<void> {
    const fid = `${volumeId},${formatKeyCookie(key, cookie)}`;
    let status: number;
    let text: string;
    try {
      const auth = this.#tokens === undefined ? undefined : await this.#tokens.sign(fid);
      const r = await request(`${httpOrigin(this.endpoint.url)}/${fid}?type=replicate`, {
        method: "DELETE",
        ...(auth === undefined ? {} : { headers: { authorization: bearer(auth) } }),
        headersTimeout: checkCallTimeoutMs,
        bodyTimeout: checkCallTimeoutMs,
        ...(this.#signal === undefined ? {} : { signal: this.#signal }),
      });
      status = r.statusCode;
      text = await r.body.text();
    } catch (err) {
      throw failed(`deleting ${fid}`, this.endpoint, err);
    }
    if (status !== 202 && status !== 200 && status !== 404) {
      throw new CheckCallError(`deleting ${fid} on ${this.endpoint.url}: answered ${status}: ${text.slice(0, 200)}`);
    }
  }
}

/** A needle too large to move in one gRPC message: reported, not copied. */
export function tooLargeToCopy(n: NeedleMeta): boolean {
  return n.size + recordOverheadBytesMax > checkBlobBytesMax;
}

/** A record is its Size plus header (16), CRC and AppendAtNs (12) and padding (1..8). */
const recordOverheadBytesMax = 36;
