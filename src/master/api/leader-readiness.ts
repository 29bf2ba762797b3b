// How long a new leader took to be ready, step by step (issue 15: ready in under 2 s after a
// kill -9 of the old one, with 1,000 volume servers re-registering): from its election to the
// first volume server's beat applied (its topology starts from nothing), to its first block of
// file keys (a Raft commit), to its first assign answered. Logged once per term when all are
// taken, and kept for /metrics (SeaweedFS_master_leader_ready_seconds), where bench:scale reads it.

export const READINESS_STEPS = ["firstBeat", "fileKeys", "firstAssign"] as const;
export type ReadinessStep = (typeof READINESS_STEPS)[number];

/** Milliseconds from the election to each step taken so far. */
export type ReadinessTimes = { [S in ReadinessStep]?: number };

export class LeaderReadiness {
  private since: number | undefined;
  private times: ReadinessTimes = {};
  private onReady: ((times: Required<ReadinessTimes>) => void) | undefined;

  /** `now`: monotonic milliseconds. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** This master was elected: steps count from now; `onReady` hears the times once all are taken. */
  began(onReady?: (times: Required<ReadinessTimes>) => void): void {
    this.since = this.now();
    this.times = {};
    this.onReady = onReady;
  }

  /** This master stopped leading: no step counts until the next election (the last times stay). */
  ended(): void {
    this.since = undefined;
    this.onReady = undefined;
  }

  /** A step happened; only its first time in a term counts. Cheap: called on every beat and assign. */
  reached(step: ReadinessStep): void {
    if (this.since === undefined || this.times[step] !== undefined) return;
    this.times[step] = this.now() - this.since;
    const onReady = this.onReady;
    if (onReady === undefined || !READINESS_STEPS.every((s) => this.times[s] !== undefined)) return;
    this.onReady = undefined;
    onReady(this.times as Required<ReadinessTimes>);
  }

  /** The steps taken since the last election began (a copy). */
  last(): ReadinessTimes {
    return { ...this.times };
  }
}
