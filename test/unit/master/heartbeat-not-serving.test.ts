// A stream a master took as a follower (it was still a candidate when the volume server opened it,
// or its loop stalled past an election timeout) must not be answered with this master's own name
// once it leads: the volume server would take that answer for a leader's, see the stream end at
// once, count that leader as lost and avoid it for heartbeatStaleLeaderMs (5 s), while the new
// leader's first assigns wait for its volume servers (seen once at a cluster's start as
// "heartbeating to master", "master ended the stream" from the just-elected leader, then "master
// still names the leader we lost" for seconds; a candidate cause, not a proven one, of
// server-rolling-restart's rare "master is warming up" 503s). Such a stream is refused
// ("not leader": the volume server asks again ~100 ms later); a follower still names the leader,
// and one that knows none still says so.
import { EventEmitter } from "node:events";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/common/logger.js";
import { HeartbeatSchema, type HeartbeatResponse } from "../../../src/gen/master_pb.js";
import {
  HeartbeatService,
  type HeartbeatCall,
  type HeartbeatServiceDeps,
} from "../../../src/master/api/heartbeat-service.js";
import type { MasterMetrics } from "../../../src/master/api/metrics.js";
import type { ClusterState } from "../../../src/master/state/cluster-state.js";
import type { Sequencer } from "../../../src/master/state/sequencer.js";
import { Topology } from "../../../src/master/topology/topology.js";

const self = "127.0.0.1:9333";

/** What a follower's handler did with one stream: the messages written, the status, whether it ended. */
interface Outcome {
  written: HeartbeatResponse[];
  error: { code: number; details: string } | undefined;
  ended: boolean;
}

function fakeCall(): { call: HeartbeatCall; outcome: Outcome } {
  const outcome: Outcome = { written: [], error: undefined, ended: false };
  const call = Object.assign(new EventEmitter(), {
    write: (m: HeartbeatResponse) => outcome.written.push(m) > 0,
    end: () => void (outcome.ended = true),
    getPeer: () => "ipv4:127.0.0.1:40000",
  });
  call.on("error", (e: { code: number; details: string }) => (outcome.error = e));
  return { call: call as unknown as HeartbeatCall, outcome };
}

function follower(leader: string | null): HeartbeatService {
  const deps: HeartbeatServiceDeps = {
    topology: new Topology(1 << 30),
    sequencer: {} as Sequencer,
    state: { topologyId: "", maxVolumeId: 0 } as unknown as ClusterState,
    logger: silentLogger(),
    metrics: { heartbeat: () => undefined, locationsPushed: () => undefined } as unknown as MasterMetrics,
    leader: () => leader,
    isLeader: () => false,
    self,
    pulseMs: 5_000,
  };
  return new HeartbeatService(deps);
}

function firstBeat(service: HeartbeatService): Outcome {
  const { call, outcome } = fakeCall();
  service.handle(call);
  call.emit("data", create(HeartbeatSchema, { ip: "127.0.0.1", port: 8080 }));
  service.close();
  return outcome;
}

describe("heartbeat at a master that does not serve as leader", () => {
  it("a stream opened before this master led is refused once it leads, never answered with its own name", () => {
    const o = firstBeat(follower(self));
    expect(o.written).toEqual([]);
    expect(o.error?.code).toBe(14); // UNAVAILABLE, as NOT_LEADER maps: the volume server asks again shortly
    expect(o.error?.details).toMatch(/not serving yet/);
  });

  it("a follower names the leader and ends the stream", () => {
    const o = firstBeat(follower("127.0.0.1:9334"));
    expect(o.written.map((r) => r.leader)).toEqual(["127.0.0.1:9334"]);
    expect(o.ended).toBe(true);
    expect(o.error).toBeUndefined();
  });

  it("a follower that knows no leader says so", () => {
    const o = firstBeat(follower(null));
    expect(o.written).toEqual([]);
    expect(o.error?.details).toMatch(/no leader is elected yet/);
  });
});
