// The leader's background repair: while this master leads (and once its warm-up is over, so the
// topology holds what the volume servers report), every scanIntervalMs it takes a snapshot of
// the topology, asks the schedule (repair-schedule.ts) which repairs to start, and runs them:
// a VolumeCopy for a volume short of copies past the grace, a replica check for a volume a
// holder reports as needing one. Stepping down or closing aborts the loop and the jobs under way
// (a cancelled copy leaves nothing loadable on its target); the next leader starts over from its
// own topology, with a fresh grace.
import { setTimeout as sleep } from "node:timers/promises";
import { assert } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { ClusterSnapshot } from "./cluster-snapshot.js";
import { repairJobsMax, repairRetryBaseMs, repairRetryMaxMs, repairScanIntervalMs, repairSettleMs } from "./limits.js";
import { RepairSchedule, type CheckJob, type CopyJob, type RepairJob } from "./repair-schedule.js";

/** Monotonic milliseconds and a cancellable wait on the same scale. */
export interface RepairClock {
  now(): number;
  /** Resolves after `ms`, or rejects once `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realRepairClock: RepairClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

export interface CopyDone {
  bytes: number;
}
export interface CheckDone {
  converged: boolean;
  copied: number;
  deleted: number;
}

export interface RepairerDeps {
  /** The topology now. */
  snapshot: () => ClusterSnapshot;
  /** False while a new leader's topology is loading (its warm-up): no scan then. */
  ready: () => boolean;
  /** Runs a copy with its own deadline; rejects on failure. */
  copy: (job: CopyJob, signal: AbortSignal) => Promise<CopyDone>;
  /** Reconciles the replicas of a volume; rejects on failure. Absent: volumes needing a check are left alone. */
  check?: (job: CheckJob, signal: AbortSignal) => Promise<CheckDone>;
  clock: RepairClock;
  random: () => number;
  logger: Logger;
}

export interface RepairerOptions {
  /** How long a volume stays under-replicated before it is copied (ms). */
  graceMs: number;
  scanIntervalMs?: number;
  jobsMax?: number;
  settleMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/** One term of leadership: its schedule, the loop's signal, and the jobs it started. */
interface Term {
  schedule: RepairSchedule;
  abort: AbortController;
  jobs: Set<Promise<void>>;
  loop: Promise<void>;
}

export class Repairer {
  private term: Term | undefined;
  /** The previous term's loop and jobs ending: a new term scans only after, so no server has two jobs. */
  private draining: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly d: RepairerDeps,
    private readonly o: RepairerOptions,
  ) {
    this.log = d.logger.child({ module: "repair" });
  }

  /** This master leads: start scanning (again no-op while a term runs). */
  lead(): void {
    if (this.closed || this.term !== undefined) return;
    const o = this.o;
    const schedule = new RepairSchedule({
      graceMs: o.graceMs,
      jobsMax: o.jobsMax ?? repairJobsMax,
      settleMs: o.settleMs ?? repairSettleMs,
      retryBaseMs: o.retryBaseMs ?? repairRetryBaseMs,
      retryMaxMs: o.retryMaxMs ?? repairRetryMaxMs,
      random: this.d.random,
      checks: this.d.check !== undefined,
    });
    const term: Term = { schedule, abort: new AbortController(), jobs: new Set(), loop: Promise.resolve() };
    this.term = term;
    this.log.info({ graceSec: o.graceMs / 1000 }, "repair loop running: leading");
    term.loop = this.draining.then(() => this.loop(term));
  }

  /** This master no longer leads: stop scanning and cancel the jobs under way. */
  stepDown(): Promise<void> {
    const term = this.term;
    if (term === undefined) return this.draining;
    this.term = undefined;
    term.abort.abort();
    this.log.info({ running: term.jobs.size }, "repair loop stopped: not leading");
    this.draining = Promise.allSettled([term.loop, ...term.jobs]).then(() => undefined);
    return this.draining;
  }

  /** Idempotent; resolves once the loop and its jobs have ended. */
  close(): Promise<void> {
    this.closed = true;
    return this.stepDown();
  }

  private async loop(term: Term): Promise<void> {
    const signal = term.abort.signal;
    const interval = this.o.scanIntervalMs ?? repairScanIntervalMs;
    while (!signal.aborted) {
      if (this.d.ready()) this.scan(term);
      try {
        await this.d.clock.sleep(interval, signal);
      } catch {
        return; // aborted
      }
    }
  }

  private scan(term: Term): void {
    const now = this.d.clock.now();
    const { start, noRoom } = term.schedule.plan(this.d.snapshot(), now);
    for (const { volumeId, retryInMs } of noRoom)
      this.log.warn(
        { volumeId, retryInSec: retryInMs / 1000 },
        "repair: no server with a free slot keeps the placement of an under-replicated volume",
      );
    for (const job of start) {
      const p = this.run(term, job);
      term.jobs.add(p);
      void p.finally(() => term.jobs.delete(p));
    }
  }

  /**
   * One job, logged as it starts and ends (bytes and seconds for a copy). A job of a term that
   * ended is not reported to the schedule: that schedule is dropped.
   */
  private async run(term: Term, job: RepairJob): Promise<void> {
    const started = this.d.clock.now();
    const signal = term.abort.signal;
    const log = this.log.child({ volumeId: job.volumeId, job: job.kind });
    const what =
      job.kind === "copy"
        ? { from: job.source.node, to: job.target.node }
        : { replicas: job.replicas.map((r) => r.node) };
    log.info(what, "repair started");
    // A signal of its own, tied to the term's while it runs: the gRPC call's abort listener then
    // goes with the job instead of piling up on the term's signal, one per job of the term.
    const own = new AbortController();
    const cancel = (): void => own.abort();
    signal.addEventListener("abort", cancel, { once: true });
    let result: { ok: boolean; fields: object };
    try {
      result = await this.perform(job, own.signal);
    } catch (err) {
      result = { ok: false, fields: { err: (err as Error).message, cancelled: signal.aborted } };
    } finally {
      signal.removeEventListener("abort", cancel);
    }
    const now = this.d.clock.now();
    const fields = { ...what, ...result.fields, seconds: (now - started) / 1000 };
    const retryInMs = signal.aborted ? undefined : term.schedule.finished(job, result.ok, now);
    if (result.ok) log.info(fields, "repair finished");
    else log.warn({ ...fields, ...(retryInMs === undefined ? {} : { retryInSec: retryInMs / 1000 }) }, "repair failed");
  }

  private async perform(job: RepairJob, signal: AbortSignal): Promise<{ ok: boolean; fields: object }> {
    if (job.kind === "copy") {
      const { bytes } = await this.d.copy(job, signal);
      return { ok: true, fields: { bytes } };
    }
    assert(this.d.check !== undefined, "a check is planned only with a checker");
    const r = await this.d.check(job, signal);
    // Not converged (a replica kept changing, or one could not be reached): retried like a failure.
    return { ok: r.converged, fields: { copied: r.copied, deleted: r.deleted, converged: r.converged } };
  }
}
