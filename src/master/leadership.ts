// What a master does when it starts or stops leading, in one place: a new leader arms the
// warm-up, fixes the cluster id and reserves file keys; a master that stops leading sends its
// volume servers on to the new leader; a leader change drops the pool to the old leader; a
// master removed from the group says so.
import type { Logger } from "../common/logger.js";
import type { HeartbeatService } from "./api/heartbeat-service.js";
import type { LeaderForwarder } from "./api/leader-forwarder.js";
import type { RaftClusterState } from "./state/raft-cluster-state.js";
import type { Sequencer } from "./state/sequencer.js";
import type { Assigner } from "./topology/assigner.js";

export interface LeadershipDeps {
  self: string;
  state: RaftClusterState;
  assigner: Assigner;
  sequencer: Sequencer;
  heartbeats: HeartbeatService;
  forwarder: LeaderForwarder;
  logger: Logger;
  /** How long after winning an election growth waits for volume servers to report (ms). */
  warmUpMs: number;
}

export class LeadershipReactions {
  private readonly runtime: RaftClusterState["runtime"];
  private leading = false;
  /** Ends the volume servers' streams when no new leader was named in time. */
  private endTimer: NodeJS.Timeout | undefined;
  private previousLeader: string | null = null;
  private wasMember = false;

  constructor(private readonly d: LeadershipDeps) {
    this.runtime = d.state.runtime;
    this.runtime.on("role-changed", ({ role }) => {
      this.leading = role === "leader";
      if (this.leading) this.becameLeader();
      else this.sendVolumeServersOn();
    });
    this.runtime.on("leader-changed", ({ leader }) => this.leaderChanged(leader));
    this.runtime.on("membership-changed", ({ membership }) =>
      this.membershipChanged(membership.voters.includes(d.self) || membership.learners.includes(d.self)),
    );
  }

  /** Called once the Raft state is loaded: whether this master is a member to begin with. */
  opened(): void {
    this.wasMember = this.runtime.status().members.some((m) => m.id === this.d.self);
  }

  close(): void {
    clearTimeout(this.endTimer);
    this.endTimer = undefined;
  }

  private becameLeader(): void {
    const { assigner, state, sequencer, logger, warmUpMs } = this.d;
    this.close();
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
      .catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, "reserving file keys failed; retried on demand"),
      );
  }

  /**
   * A master that stops leading sends its volume servers on to the new leader: with its name, so
   * they move at once instead of backing off and searching. Right after a step-down the new
   * leader is often not known yet; the streams are ended when it is, or after a bound.
   */
  private sendVolumeServersOn(): void {
    const leader = this.runtime.currentLeader();
    if (leader === this.d.self) {
      // Elected after all (a candidate's role changes pass through here): keep the streams.
      this.close();
    } else if (leader !== null) {
      this.close();
      this.d.heartbeats.endAll();
    } else {
      this.endTimer ??= setTimeout(() => {
        this.endTimer = undefined;
        this.d.heartbeats.endAll();
      }, this.runtime.electionTimeoutMs * 3);
    }
  }

  private leaderChanged(leader: string | null): void {
    const previous = this.previousLeader;
    if (previous !== null && previous !== this.d.self && previous !== leader) this.d.forwarder.forget(previous);
    this.previousLeader = leader;
    if (this.endTimer !== undefined) this.sendVolumeServersOn();
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
