// Every parameter of a simulated run, derived from its seed ("swarm testing": each seed draws its
// own cluster size, fault rates and limits, so the seeds together cover many combinations).
import type { NetworkFaults } from "./network.js";
import { Prng } from "./prng.js";
import type { StorageBug } from "./storage.js";

/** Simulated milliseconds per tick: the runtimes' tickMs, and the unit of every delay below. */
export const simTickMs = 10;

export interface SimOptions {
  readonly seed: number;
  /** Voters at bootstrap (3 or 5); the operator keeps the voter count near it. */
  readonly clusterSize: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly inflightAppendsMax: number;
  readonly entriesPerAppendMax: number;
  readonly msgBytesMax: number;
  readonly promoteLagEntriesMax: number;
  readonly faults: NetworkFaults;
  /** Per live node per tick. */
  readonly crashRate: number;
  /** Per finished Ready: crash right after the write (stresses what must have been persisted). */
  readonly crashAfterWriteRate: number;
  /** Per crash: the machine lost power, so writes since the last fsync are gone too. */
  readonly powerLossRate: number;
  /** Per new leader: crash it within two election timeouts (churns terms with divergent logs). */
  readonly leaderCrashRate: number;
  readonly downTicksMax: number;
  /** Per tick, when no partition is in place. */
  readonly partitionRate: number;
  readonly partitionTicksMax: number;
  /** Ticks between taking a Ready and finishing its write (a crash in between loses it). */
  readonly diskLatencyTicksMax: number;
  /** Compact the log when this many entries were applied since the last snapshot. */
  readonly compactEveryEntries: number;
  readonly clients: number;
  /** Per idle client per tick. */
  readonly requestRate: number;
  readonly readRate: number;
  /** Per tick: try a membership step / a leadership transfer. */
  readonly confChangeRate: number;
  readonly transferRate: number;
  /**
   * Stop a removed node once its removal commits (as an operator or hashicorp's ShutdownOnRemove
   * would). When false, removed nodes keep running and must not disrupt the group.
   */
  readonly retireRemoved: boolean;
  /**
   * Per node incarnation: the chance that its runtime runs with sendBeforePersist (production's
   * default: messages that promise nothing about the write go out before it). The others persist
   * first. Between 0 and 1 both orders run in one group.
   */
  readonly sendBeforePersistRate: number;
  /** Per send-before-persist incarnation: the chance that it writes asynchronously as leader. */
  readonly asyncLeaderWritesRate: number;
  /** A deliberately broken store (sim/storage.ts), to check that the checkers notice. */
  readonly storageBug: StorageBug;
  /** Ticks with faults on. */
  readonly safetyTicks: number;
  /**
   * After healing, the group must make progress (some node appends or applies) at least this
   * often until a leader has committed every pending request and every member caught up...
   */
  readonly livenessStallTicksMax: number;
  /** ...and get there within this many ticks in all (a large backlog may take a while). */
  readonly livenessTicksMax: number;
  /** A client waits this long for an answer before retrying with the same request id. */
  readonly requestTimeoutTicks: number;
  /** Per crash and survivor with an intact link: its transport reports the connection lost. */
  readonly crashNoticeRate: number;
  /** Per tick: a follower is told its connection to the live leader broke. */
  readonly falseLeaderLostRate: number;
}

export function optionsFromSeed(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  const p = new Prng(seed ^ 0x5eed);
  const electionTicks = p.range(8, 16);
  const calm = p.chance(0.15); // some seeds run with few faults, to reach deep states
  const o: SimOptions = {
    seed,
    clusterSize: p.chance(0.5) ? 3 : 5,
    electionTicks,
    heartbeatTicks: p.range(1, Math.max(1, Math.floor(electionTicks / 4))),
    preVote: p.chance(0.8),
    checkQuorum: p.chance(0.8),
    inflightAppendsMax: p.range(1, 8),
    entriesPerAppendMax: p.range(1, 16),
    msgBytesMax: p.range(8, 256),
    promoteLagEntriesMax: p.range(0, 20),
    faults: {
      lossRate: calm ? 0 : p.float() * 0.2,
      duplicateRate: calm ? 0 : p.float() * 0.1,
      delayTicksMin: 1,
      delayTicksMax: p.range(1, Math.max(2, Math.floor(electionTicks / 3))),
      slowRate: calm ? 0 : p.float() * 0.02,
      slowDelayTicksMax: 4 * electionTicks,
    },
    leaderCrashRate: calm ? 0 : p.float() * 0.3,
    crashAfterWriteRate: calm ? 0 : p.float() * 0.01,
    powerLossRate: p.float() * 0.5,
    crashRate: calm ? 0.0002 : p.float() * 0.004,
    downTicksMax: p.range(5, 6 * electionTicks),
    partitionRate: calm ? 0.001 : p.float() * 0.02,
    partitionTicksMax: p.range(electionTicks, 12 * electionTicks),
    diskLatencyTicksMax: p.range(0, 2),
    compactEveryEntries: p.range(5, 60),
    clients: p.range(1, 6),
    requestRate: 0.05 + p.float() * 0.5,
    readRate: p.float() * 0.05,
    confChangeRate: p.float() * 0.02,
    transferRate: p.float() * 0.005,
    retireRemoved: p.chance(0.5),
    sendBeforePersistRate: p.pick([0.5, 0.5, 0.8, 0.2]),
    storageBug: "none",
    safetyTicks: 2500,
    livenessStallTicksMax: 30 * electionTicks,
    livenessTicksMax: 400 * electionTicks,
    requestTimeoutTicks: 6 * electionTicks,
    // Drawn last, so the options above stay what each seed drew before these existed.
    crashNoticeRate: p.pick([0, 0.5, 1, 1]),
    falseLeaderLostRate: calm ? 0 : p.float() * 0.01,
    asyncLeaderWritesRate: p.pick([0.5, 0.8, 1]),
  };
  return { ...o, ...overrides };
}

export function describeOptions(o: SimOptions): string {
  const f = o.faults;
  return [
    `seed=${o.seed} nodes=${o.clusterSize} election=${o.electionTicks} heartbeat=${o.heartbeatTicks}`,
    `preVote=${o.preVote} checkQuorum=${o.checkQuorum} inflight=${o.inflightAppendsMax} ` +
      `perAppend=${o.entriesPerAppendMax} msgBytes=${o.msgBytesMax}`,
    `loss=${f.lossRate.toFixed(3)} dup=${f.duplicateRate.toFixed(3)} delay=${f.delayTicksMin}..${f.delayTicksMax} ` +
      `slow=${f.slowRate.toFixed(3)}..${f.slowDelayTicksMax}`,
    `crash=${o.crashRate.toFixed(4)} leaderCrash=${o.leaderCrashRate.toFixed(2)} ` +
      `afterWrite=${o.crashAfterWriteRate.toFixed(4)} powerLoss=${o.powerLossRate.toFixed(2)} ` +
      `down<=${o.downTicksMax} ` +
      `partition=${o.partitionRate.toFixed(4)} for<=${o.partitionTicksMax}`,
    `disk<=${o.diskLatencyTicksMax} sendFirst=${o.sendBeforePersistRate} asyncWrites=${o.asyncLeaderWritesRate} ` +
      `storageBug=${o.storageBug} ` +
      `compactEvery=${o.compactEveryEntries} clients=${o.clients} ` +
      `req=${o.requestRate.toFixed(2)} read=${o.readRate.toFixed(3)}`,
    `conf=${o.confChangeRate.toFixed(3)} retireRemoved=${o.retireRemoved} transfer=${o.transferRate.toFixed(4)} ` +
      `crashNotice=${o.crashNoticeRate} falseLeaderLost=${o.falseLeaderLostRate.toFixed(4)} ` +
      `safetyTicks=${o.safetyTicks} liveness stall<=${o.livenessStallTicksMax} total<=${o.livenessTicksMax}`,
  ].join("\n");
}
