// A volume server's stream at a master that does not serve as leader. A follower that knows the
// leader names it and ends the stream. During an election (no leader known, or this master won and
// does not serve yet) the stream is held (electionHoldMs, issue 15): answered with the winner's name
// the moment it is known, or, when this master won, kept as the leader's own stream with the beats it
// brought (the server is registered without a reconnect). Such a stream is never answered with this
// master's own name and then ended: the volume server would take that for a leader lost at once and
// avoid the new leader for heartbeatStaleLeaderMs (5 s) while its first assigns wait for volume
// servers. A stream held past electionHoldMs is refused ("no leader yet": the volume server asks
// again shortly), and so is one held when the master closes.
import { EventEmitter } from "node:events";
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../../src/common/logger.js";
import {
  HeartbeatSchema,
  VolumeShortInformationMessageSchema,
  type Heartbeat,
  type HeartbeatResponse,
} from "../../../src/gen/master_pb.js";
import {
  HeartbeatService,
  electionHeldBeatsMax,
  electionHeldStreamsMax,
  electionHoldMs,
  type HeartbeatCall,
} from "../../../src/master/api/heartbeat-service.js";
import { MasterMetrics } from "../../../src/master/api/metrics.js";
import type { ClusterState } from "../../../src/master/state/cluster-state.js";
import { RaftClusterView } from "../../../src/master/state/cluster-view.js";
import type { Sequencer } from "../../../src/master/state/sequencer.js";
import { Topology } from "../../../src/master/topology/topology.js";
import type { RaftRuntimeEvents } from "../../../src/raft/runtime/index.js";

const self = "127.0.0.1:9333";
const other = "127.0.0.1:9334";

/** The runtime's side of the cluster view: tests move leadership and the view hears the events. */
class FakeRuntime extends EventEmitter<RaftRuntimeEvents> {
  leading = false;
  current: string | null;
  constructor(leader: string | null) {
    super();
    this.current = leader;
  }
  isLeader(): boolean {
    return this.leading;
  }
  currentLeader(): string | null {
    return this.current;
  }
  status() {
    return { members: [], leader: this.current };
  }
  /** This master wins: the Raft leader first, the role event (and with it isLeader()) after. */
  win(): void {
    this.current = self;
    this.leading = true;
    this.emit("role-changed", { role: "leader", term: 3 });
    this.emit("leader-changed", { leader: self, term: 3 });
  }
  /** This master stops leading before anyone else is known to. */
  stepDown(): void {
    this.current = null;
    this.leading = false;
    this.emit("role-changed", { role: "follower", term: 4 });
    this.emit("leader-changed", { leader: null, term: 4 });
  }
  elected(leader: string): void {
    this.current = leader;
    this.emit("leader-changed", { leader, term: 3 });
  }
}

/** What the handler did with one stream: the messages written, the status, whether it ended. */
interface Outcome {
  written: HeartbeatResponse[];
  error: { code: number; details: string } | undefined;
  ended: boolean;
}

type FakeCall = HeartbeatCall & EventEmitter;

function fakeCall(): { call: FakeCall; outcome: Outcome } {
  const outcome: Outcome = { written: [], error: undefined, ended: false };
  const call = Object.assign(new EventEmitter(), {
    cancelled: false,
    destroyed: false,
    write: (m: HeartbeatResponse) => outcome.written.push(m) > 0,
    end: () => void (outcome.ended = true),
    getPeer: () => "ipv4:127.0.0.1:40000",
  });
  call.on("error", (e: { code: number; details: string }) => (outcome.error = e));
  return { call: call as unknown as FakeCall, outcome };
}

const services: HeartbeatService[] = [];
afterEach(() => {
  for (const s of services.splice(0)) s.close();
  vi.useRealTimers();
});

function master(leader: string | null): { service: HeartbeatService; runtime: FakeRuntime; topology: Topology } {
  const runtime = new FakeRuntime(leader);
  const topology = new Topology(1 << 30);
  const state = {
    topologyId: "",
    maxVolumeId: 100,
    raiseMaxVolumeId: async () => undefined,
  } as unknown as ClusterState;
  const service = new HeartbeatService({
    topology,
    sequencer: { observe: () => undefined } as unknown as Sequencer,
    state,
    logger: silentLogger(),
    metrics: new MasterMetrics(topology, state),
    cluster: new RaftClusterView(self, runtime),
    pulseMs: 5_000,
  });
  services.push(service);
  return { service, runtime, topology };
}

function beat(port: number, o: Pick<Heartbeat, "newVolumes">[] = []): Heartbeat {
  const hb = create(HeartbeatSchema, { ip: "127.0.0.1", port, maxVolumeCounts: { "": 8 }, hasNoVolumes: true });
  for (const delta of o) Object.assign(hb, { hasNoVolumes: false }, delta);
  return hb;
}

function open(service: HeartbeatService, port = 8080): { call: FakeCall; outcome: Outcome } {
  const c = fakeCall();
  service.handle(c.call);
  c.call.emit("data", beat(port));
  return c;
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("heartbeat at a master that does not serve as leader", () => {
  it("a follower names the leader and ends the stream", () => {
    const { outcome } = open(master(other).service);
    expect(outcome.written.map((r) => r.leader)).toEqual([other]);
    expect(outcome.ended).toBe(true);
    expect(outcome.error).toBeUndefined();
  });

  it("a stream held through an election is answered with the winner's name once it is known", async () => {
    const { service, runtime } = master(null);
    const { outcome } = open(service);
    await settle();
    expect(outcome.written).toEqual([]);
    runtime.elected(other);
    await settle();
    expect(outcome.written.map((r) => r.leader)).toEqual([other]);
    expect(outcome.ended).toBe(true);
    expect(outcome.error).toBeUndefined();
  });

  it("a stream held by the master that wins becomes its own, with every beat it brought applied", async () => {
    const { service, runtime, topology } = master(null);
    const { call, outcome } = open(service);
    // A store change while held: a new volume, sent before any answer.
    call.emit(
      "data",
      beat(8080, [{ newVolumes: [create(VolumeShortInformationMessageSchema, { id: 7, version: 3 })] }]),
    );
    await settle();
    runtime.win();
    await vi.waitFor(() => expect(outcome.written).toHaveLength(2));
    expect(outcome.written.map((r) => r.leader)).toEqual([self, self]);
    expect(outcome.ended).toBe(false);
    expect(outcome.error).toBeUndefined();
    expect(topology.node("127.0.0.1:8080")?.volumes.has(7)).toBe(true);
  });

  it("a stream opened while this master was elected but not serving yet waits for it to serve", async () => {
    const { service, runtime, topology } = master(self);
    const { outcome } = open(service);
    await settle();
    expect(outcome.written).toEqual([]);
    runtime.win();
    await vi.waitFor(() => expect(outcome.written.map((r) => r.leader)).toEqual([self]));
    expect(outcome.ended).toBe(false);
    expect(topology.nodeCount).toBe(1);
  });

  it("a stream held by a master that wins and at once steps down is refused, not served", async () => {
    const { service, runtime, topology } = master(null);
    const { outcome } = open(service);
    await settle();
    runtime.win();
    runtime.stepDown();
    await settle();
    expect(outcome.written).toEqual([]);
    expect(outcome.error?.details).toMatch(/no leader is elected yet/);
    expect(topology.nodeCount).toBe(0);
  });

  it("a stream held past electionHoldMs with no leader is refused: the volume server asks again", async () => {
    vi.useFakeTimers();
    const { service } = master(null);
    const { outcome } = open(service);
    await vi.advanceTimersByTimeAsync(electionHoldMs - 10);
    expect(outcome.error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(20);
    expect(outcome.written).toEqual([]);
    expect(outcome.error?.code).toBe(14); // UNAVAILABLE, as NOT_LEADER maps
    expect(outcome.error?.details).toMatch(/no leader is elected yet/);
  });

  it("a held stream that goes away gets nothing; one held when the master closes is refused", async () => {
    const { service, runtime } = master(null);
    const gone = open(service, 8080);
    const kept = open(service, 8081);
    gone.call.cancelled = true;
    gone.call.emit("cancelled");
    await settle();
    service.close();
    await settle();
    runtime.elected(other);
    await settle();
    expect(gone.outcome.written).toEqual([]);
    expect(gone.outcome.error).toBeUndefined();
    expect(kept.outcome.written).toEqual([]);
    expect(kept.outcome.error?.details).toMatch(/closing/);
  });

  it(`a held stream that sends more than electionHeldBeatsMax (${electionHeldBeatsMax}) beats is refused`, async () => {
    const { service, runtime, topology } = master(null);
    const { call, outcome } = open(service);
    for (let i = 1; i < electionHeldBeatsMax; i++) call.emit("data", beat(8080));
    await settle();
    expect(outcome.error).toBeUndefined();
    call.emit("data", beat(8080));
    expect(outcome.error?.details).toMatch(/no leader is elected yet/);
    const refusal = outcome.error;
    runtime.win();
    await settle();
    expect(outcome.written).toEqual([]);
    expect(outcome.error).toBe(refusal); // refused once, never served
    expect(topology.nodeCount).toBe(0);
  });

  it(`holds at most electionHeldStreamsMax (${electionHeldStreamsMax}) streams; one more is refused at once`, () => {
    const { service } = master(null);
    const all = Array.from({ length: electionHeldStreamsMax + 1 }, (_, i) => open(service, 1 + i));
    expect(all.slice(0, -1).every((c) => c.outcome.error === undefined)).toBe(true);
    expect(all.at(-1)!.outcome.error?.details).toMatch(/no leader is elected yet/);
  });
});
