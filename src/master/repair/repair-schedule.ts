// Which repairs the leader starts, and when: a pure schedule over topology snapshots and a clock
// reading passed in (no timers, no I/O), so its rules are tested as a transcript.
//
// - A volume with fewer holders than its placement asks for is copied once it has been
//   under-replicated, continuously, for the grace: a server that restarts comes back with its
//   volumes well within it, and copying them meanwhile would be wasted. The grace counts from the
//   first snapshot this schedule saw the volume short; a new leader starts a new schedule, so its
//   grace restarts from its own first scan (the topology is all it needs to pick up the work).
// - A volume some holder reports as needing a check (a replicated write failed part way) and that
//   has its copies gets its replicas reconciled; an under-replicated one is copied first.
// - At most one job per server (as source, target or checked replica) and jobsMax in all.
// - A failed job is retried after a capped, jittered exponential backoff; a finished copy leaves
//   the volume alone until the target's heartbeat reports the new replica (settleMs at most).
// - Over-replication is never trimmed here: only an operator (volume.fix.replication) does that.
import { missingCopies, pickSource, pickTarget } from "./plan.js";
import type { ClusterSnapshot, RepairNode, RepairReplica, RepairVolume } from "./cluster-snapshot.js";

export interface CopyJob {
  kind: "copy";
  volumeId: number;
  collection: string;
  source: RepairReplica;
  target: RepairNode;
}

export interface CheckJob {
  kind: "check";
  volumeId: number;
  replicas: RepairReplica[];
}

export type RepairJob = CopyJob | CheckJob;

export interface ScheduleOptions {
  graceMs: number;
  jobsMax: number;
  settleMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Whether replica checks are run (false: needsCheck is left to the operator's volume.check.disk). */
  checks: boolean;
  /** [0, 1): the jitter of retries. */
  random: () => number;
}

export interface PlanResult {
  /** Jobs to start now; each is running until finished() is called with it. */
  start: RepairJob[];
  /** Under-replicated past the grace, but no server with a free slot keeps the placement. */
  noRoom: { volumeId: number; retryInMs: number }[];
}

export class RepairSchedule {
  /** Volume id -> when this schedule first saw it under-replicated (in this stretch). */
  private readonly shortSince = new Map<number, number>();
  /** Volume id -> not before this time (after a failure, or while a finished copy settles). */
  private readonly notBefore = new Map<number, number>();
  private readonly failures = new Map<number, number>();
  private readonly running = new Map<number, RepairJob>();
  /** Servers taking part in a running job. */
  private readonly busy = new Set<string>();
  /** Volume id -> the target of its finished copy, counted against the target's free slots while it settles. */
  private readonly promised = new Map<number, { target: string; until: number }>();

  constructor(private readonly o: ScheduleOptions) {}

  get runningCount(): number {
    return this.running.size;
  }

  /** Notes which volumes are short as of `now` and picks the jobs to start. */
  plan(snap: ClusterSnapshot, now: number): PlanResult {
    this.observe(snap, now);
    const result: PlanResult = { start: [], noRoom: [] };
    const slots = this.slotsOf(snap, now);
    for (const v of this.byWaitingLongest(snap.volumes)) {
      if (this.running.size >= this.o.jobsMax) break;
      if (this.running.has(v.id) || now < (this.notBefore.get(v.id) ?? 0)) continue;
      const job = this.jobFor(v, snap.nodes, slots, now);
      if (job === "wait") continue;
      if (job === "noRoom") {
        result.noRoom.push({ volumeId: v.id, retryInMs: this.failed(v.id, now) });
        continue;
      }
      this.begin(job);
      if (job.kind === "copy") slots.set(job.target.node, (slots.get(job.target.node) ?? 0) - 1);
      result.start.push(job);
    }
    return result;
  }

  /** A job ended; returns when its volume is looked at again (ms from now; 0: next scan). */
  finished(job: RepairJob, ok: boolean, now: number): number {
    this.running.delete(job.volumeId);
    for (const s of serversOf(job)) this.busy.delete(s);
    if (!ok) return this.failed(job.volumeId, now);
    this.failures.delete(job.volumeId);
    this.notBefore.set(job.volumeId, now + this.o.settleMs);
    if (job.kind === "copy") this.promised.set(job.volumeId, { target: job.target.node, until: now + this.o.settleMs });
    return this.o.settleMs;
  }

  private observe(snap: ClusterSnapshot, now: number): void {
    const present = new Set<number>();
    for (const v of snap.volumes) {
      present.add(v.id);
      if (missingCopies(v.placement, v.holders.length) > 0) {
        if (!this.shortSince.has(v.id)) this.shortSince.set(v.id, now);
      } else this.shortSince.delete(v.id);
    }
    // A volume the snapshot leaves out is healthy again (or no server reports it any more, and
    // there is nothing to copy from): forget it, but not a job of its under way.
    for (const m of [this.shortSince, this.notBefore, this.failures, this.promised] as Map<number, unknown>[])
      for (const vid of [...m.keys()]) if (!present.has(vid) && !this.running.has(vid)) m.delete(vid);
  }

  /** Short volumes first, the longest short first; then the rest by id. Deterministic. */
  private byWaitingLongest(volumes: readonly RepairVolume[]): RepairVolume[] {
    const since = (v: RepairVolume): number => this.shortSince.get(v.id) ?? Infinity;
    return [...volumes].sort((a, b) => since(a) - since(b) || a.id - b.id);
  }

  /** Free slots per server, less those promised to copies that finished but have not been reported yet. */
  private slotsOf(snap: ClusterSnapshot, now: number): Map<string, number> {
    const slots = new Map(snap.nodes.map((n) => [n.node, n.freeSlots]));
    const holders = new Map(snap.volumes.map((v) => [v.id, v.holders]));
    for (const [vid, p] of this.promised) {
      if (holders.get(vid)?.some((h) => h.node === p.target)) {
        // Reported: the settle is over early (a check of the volume, if it needs one, may start).
        this.promised.delete(vid);
        this.notBefore.delete(vid);
      } else if (now >= p.until) this.promised.delete(vid);
      else slots.set(p.target, (slots.get(p.target) ?? 0) - 1);
    }
    return slots;
  }

  private jobFor(
    v: RepairVolume,
    nodes: readonly RepairNode[],
    slots: ReadonlyMap<string, number>,
    now: number,
  ): RepairJob | "wait" | "noRoom" {
    if (missingCopies(v.placement, v.holders.length) > 0) {
      if (now - (this.shortSince.get(v.id) ?? now) < this.o.graceMs) return "wait";
      const source = pickSource(v.holders.filter((h) => h.grpcAddress !== ""));
      if (source === undefined || this.busy.has(source.node)) return "wait";
      // No room even counting none of the copies under way or settling: worth a warning and a
      // backoff. Room, but all of it taken by those or on busy servers: the next scan looks again.
      if (pickTarget(v.placement, v.holders, nodes) === undefined) return "noRoom";
      const free = nodes
        .filter((n) => !this.busy.has(n.node))
        .map((n) => ({ ...n, freeSlots: slots.get(n.node) ?? 0 }));
      const target = pickTarget(v.placement, v.holders, free);
      if (target === undefined) return "wait";
      return { kind: "copy", volumeId: v.id, collection: v.collection, source, target };
    }
    const replicas = v.holders.filter((h) => h.grpcAddress !== "");
    if (!this.o.checks || !v.holders.some((h) => h.needsCheck) || replicas.length < 2) return "wait";
    if (replicas.some((h) => this.busy.has(h.node))) return "wait";
    return { kind: "check", volumeId: v.id, replicas };
  }

  private begin(job: RepairJob): void {
    this.running.set(job.volumeId, job);
    for (const s of serversOf(job)) this.busy.add(s);
  }

  /** Counts a failure and returns the backoff before the next attempt (ms). */
  private failed(vid: number, now: number): number {
    const n = (this.failures.get(vid) ?? 0) + 1;
    this.failures.set(vid, n);
    const capped = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(n - 1, 30));
    const delay = Math.round(capped * (0.5 + 0.5 * this.o.random()));
    this.notBefore.set(vid, now + delay);
    return delay;
  }
}

function serversOf(job: RepairJob): string[] {
  return job.kind === "copy" ? [job.source.node, job.target.node] : job.replicas.map((r) => r.node);
}
