// What a master does when it starts or stops leading, in one place: a new leader arms the
// warm-up, fixes the cluster id, reserves file keys and starts repairing replicas; a master that
// stops leading stops repairing and sends its
// volume servers on to the new leader; a leader change drops the pool to the old leader; a
// master removed from the group says so.
import type { Logger } from "../common/logger.js";
import type { HeartbeatService } from "./api/heartbeat-service.js";
import type { LeaderForwarder } from "./api/leader-forwarder.js";
import type { LeaderGrpcClients } from "./api/leader-grpc.js";
import type { MasterMetrics } from "./api/metrics.js";
import type { RaftClusterState } from "./state/raft-cluster-state.js";
import type { Sequencer } from "./state/sequencer.js";
import type { Assigner } from "./topology/assigner.js";
import { noLeaderWarnMs } from "./limits.js";
import { QuorumWatch } from "./quorum-watch.js";

export interface LeadershipDeps {
  self: string;
  state: RaftClusterState;
  assigner: Assigner;
  sequencer: Sequencer;
  heartbeats: HeartbeatService;
  forwarder: LeaderForwarder;
  leaderCalls: LeaderGrpcClients;
  logger: Logger;
  /** Where the new leader's way to ready is timed (metrics.readiness). */
  metrics: Pick<MasterMetrics, "readiness">;
  /** How long after winning an election growth waits for volume servers to report (ms). */
  warmUpMs: number;
  /** The background replica repair, run while leading; absent when turned off. */
  repairer?: { lead(): void; stepDown(): Promise<void> };
  /** The automatic vacuum passes, run while leading. */
  vacuumer?: { lead(): void; stepDown(): Promise<void> };
}

export class LeadershipReactions {
  private readonly runtime: RaftClusterState["runtime"];
  private leading = false;
  private previousLeader: string | null = null;
  private wasMember = false;
  private readonly quorum: QuorumWatch;

  constructor(private readonly d: LeadershipDeps) {
    this.runtime = d.state.runtime;
    const voters = (): string[] =>
      this.runtime
        .status()
        .members.filter((m) => m.suffrage === "voter")
        .map((m) => m.id);
    this.quorum = new QuorumWatch(d.logger, noLeaderWarnMs, voters);
    this.runtime.on("role-changed", ({ role }) => {
      this.leading = role === "leader";
      if (this.leading) this.becameLeader();
      else {
        d.metrics.readiness.ended();
        void d.repairer?.stepDown();
        void d.vacuumer?.stepDown();
        this.sendVolumeServersOn();
      }
    });
    this.runtime.on("leader-changed", ({ leader }) => this.leaderChanged(leader));
    this.runtime.on("membership-changed", ({ membership }) =>
      this.membershipChanged(membership.voters.includes(d.self) || membership.learners.includes(d.self)),
    );
  }

  /** Called once the Raft state is loaded: whether this master is a member to begin with. */
  opened(): void {
    this.wasMember = this.runtime.status().members.some((m) => m.id === this.d.self);
    this.quorum.leaderChanged(this.runtime.status().leader ?? null);
  }

  close(): void {
    this.quorum.close();
  }

  private becameLeader(): void {
    const { assigner, state, sequencer, logger, warmUpMs, metrics } = this.d;
    metrics.readiness.began((t) => logger.info(roundedMs(t), "new leader ready: beats applied, file keys, an assign"));
    // The topology is soft state: volume servers report to the new leader within a beat or two.
    // Until then growth would allocate volumes that already exist elsewhere. A cluster that never
    // allocated a volume has nothing to wait for, but a new leader may not have applied its whole
    // log yet (a restarted master re-applies after its snapshot as it learns the commit index):
    // the warm-up holds until a read barrier says which it is.
    assigner.warmUpUntil(performance.now() + warmUpMs);
    void this.runtime
      .readIndex({ timeoutMs: warmUpMs })
      .then(() => {
        if (state.maxVolumeId === 0 && this.leading) assigner.warmUpUntil(0);
      })
      .catch(() => undefined); // No barrier: the warm-up runs its course.
    void state
      .ensureTopologyId()
      .catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, "fixing the cluster id failed; retried on the next election"),
      );
    void sequencer
      .start()
      .then(() => metrics.readiness.reached("fileKeys"))
      .catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, "reserving file keys failed; retried on demand"),
      );
    // Scans only once the warm-up is over (it asks the assigner), so it copies nothing that a
    // server still reporting holds.
    this.d.repairer?.lead();
    // Its first pass comes a period later: the topology has long settled by then.
    this.d.vacuumer?.lead();
  }

  /**
   * A master that stops leading ends its volume servers' streams at once, naming the new leader
   * when it knows one. Right after a step-down it usually does not (an isolated leader never
   * does): the volume servers then ask the other masters, every ~100 ms, until one names the
   * new leader. Waiting here for a name would hold the new leader's first assigns back, since
   * they wait for volume servers to report.
   */
  private sendVolumeServersOn(): void {
    // Elected after all (a candidate's role changes pass through here): keep the streams.
    if (this.runtime.currentLeader() === this.d.self) return;
    this.d.heartbeats.endAll();
  }

  private leaderChanged(leader: string | null): void {
    this.quorum.leaderChanged(leader);
    const previous = this.previousLeader;
    if (previous !== null && previous !== this.d.self && previous !== leader) {
      this.d.forwarder.forget(previous);
      this.d.leaderCalls.forget(previous);
    }
    this.previousLeader = leader;
  }

  private membershipChanged(member: boolean): void {
    if (this.wasMember && !member) {
      this.d.logger.warn(
        { self: this.d.self },
        "this master was removed from the cluster: it no longer votes or serves as leader; stop it, or add it again",
      );
    }
    this.wasMember = member;
  }
}

/** Times in whole milliseconds, for the log. */
function roundedMs(times: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(times).map(([k, ms]) => [`${k}Ms`, Math.round(ms)]));
}
