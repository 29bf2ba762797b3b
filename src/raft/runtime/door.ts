// The Raft transport's door: who may open a stream to this node. The sender names itself and its
// cluster once per stream, in the call's metadata (the opening HEADERS frame), so the check runs
// before a single byte of payload is read, and costs nothing per message. A stream is refused —
// PERMISSION_DENIED, without this node's id — when its cluster id is another cluster's, or when its
// sender is not a member (voter or learner) of the group as this node knows it.
//
// Two nodes must be let in without the full proof, or a group could never form or grow:
// - A node that does not know its cluster id yet (a brand-new group before its first leader fixed
//   one, a joining node with an empty store) accepts any cluster id; it learns its own from the
//   leader's log. (A joining master gives its contacts' cluster id as its own meanwhile: only the
//   cluster it asked to join reaches it; see src/master/state/join.ts.)
// - A node that knows no members (a joining learner, empty store) accepts any sender: the leader
//   adding it is not in its membership until the leader's first messages arrive.
// A stream that names no cluster id is accepted from a member: a member that has not learned the
// id yet (it lags the entry that fixed it) must still answer the leader.
//
// This is a check of identity as the peer states it, not authentication: it keeps another
// cluster's nodes and strangers from mixing into this group by mistake or by a casual attempt.
// A peer able to lie about its name is kept out by mutual TLS on the gRPC port.
import * as grpc from "@grpc/grpc-js";
import type { NodeId } from "../types.js";
import { doorLogAddressesMax, doorLogIntervalMs } from "./limits.js";

/** Metadata keys of a Raft stream's opening (lower case, as HTTP/2 headers are). */
export const raftClusterIdHeader = "x-raft-cluster-id";
export const raftFromHeader = "x-raft-from";

export interface DoorConfig {
  /** This node's cluster id; "" while it does not know it (see the file comment). */
  clusterId?: () => string;
  /** Whether `from` is a member this node may hear from; absent = anyone. */
  admit?: (from: NodeId) => boolean;
}

export type DoorVerdict = { ok: true; from: NodeId } | { ok: false; code: grpc.status; why: string };

/** The metadata a sender puts on each stream it opens. */
export function doorMetadata(from: NodeId, clusterId: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(raftFromHeader, from);
  if (clusterId !== "") md.set(raftClusterIdHeader, clusterId);
  return md;
}

function first(md: grpc.Metadata, key: string): string {
  const v = md.get(key)[0];
  return typeof v === "string" ? v : "";
}

/** Whether a stream opened with `md` may be served (called once per stream, before any data). */
export function checkDoor(md: grpc.Metadata, cfg: DoorConfig): DoorVerdict {
  const from = first(md, raftFromHeader);
  if (from === "") return { ok: false, code: grpc.status.PERMISSION_DENIED, why: "no sender named" };
  const theirs = first(md, raftClusterIdHeader);
  const ours = cfg.clusterId?.() ?? "";
  if (theirs !== "" && ours !== "" && theirs !== ours)
    return { ok: false, code: grpc.status.PERMISSION_DENIED, why: `another cluster (${theirs})` };
  if (cfg.admit !== undefined && !cfg.admit(from))
    return { ok: false, code: grpc.status.PERMISSION_DENIED, why: `${from} is not a member` };
  return { ok: true, from };
}

/**
 * Says yes once per key per interval, remembering at most `max` keys (the oldest is forgotten
 * first): a refused peer that retries every few hundred ms is logged once, and a flood of made-up
 * addresses cannot grow the map.
 */
export class LogOncePer {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number = doorLogIntervalMs,
    private readonly max: number = doorLogAddressesMax,
    private readonly now: () => number = () => performance.now(),
  ) {}

  shouldLog(key: string): boolean {
    const t = this.now();
    const at = this.last.get(key);
    if (at !== undefined && t - at < this.intervalMs) return false;
    this.last.delete(key); // Re-inserted last: the map's order is the order of last logging.
    if (this.last.size >= this.max) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    this.last.set(key, t);
    return true;
  }

  get size(): number {
    return this.last.size;
  }
}

/** "ipv4:127.0.0.1:5555" -> "127.0.0.1": one log line per remote host, whatever its source port. */
export function remoteHost(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, "");
  const colon = p.lastIndexOf(":");
  return (colon > 0 ? p.slice(0, colon) : p).replace(/^\[(.*)\]$/, "$1");
}
