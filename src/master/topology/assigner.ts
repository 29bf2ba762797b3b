// Assign: pick a writable volume of the layout, take `count` keys, add a random cookie. The common
// case is synchronous and allocates only the fid string and the result; growth, waiting for a
// key block and the warm-up rule are on the slow path.
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { DataNode } from "./data-node.js";
import { CookieSource, formatFidNumber } from "./fid-maker.js";
import { waitUntil, wakeAll, type Wakeups } from "../../common/wait-until.js";
import { assignGrowthWaitMs, retryAfterSec, warmUpAssignWaitMs } from "../limits.js";
import type { PlacementPrefs } from "./placement.js";
import { type MasterClock, realMasterClock, type Sequencer, timeoutSignal } from "../state/sequencer.js";
import type { Topology } from "./topology.js";
import type { VolumeGrowth, GrowthSpec } from "./volume-growth.js";
import { describeLayout } from "./volume-growth.js";
import type { Random, VolumeLayout } from "./volume-layout.js";

/**
 * Between two growths ahead of crowded volumes of one layout: the growth itself takes a few ms, and
 * the servers' next report (at most a heartbeat away) shows the new volumes; retrying sooner would
 * only repeat a growth that failed for want of slots on every assign.
 */
const growAheadRetryMs = 1_000;

export interface AssignRequest extends GrowthSpec {
  count: number;
  /** Volumes to grow if growth is needed (0 = the configured default). */
  writableVolumeCount: number;
}

export interface AssignResult {
  fid: string;
  count: number;
  /** Replicas of the volume; the first is the one to upload to. */
  nodes: readonly DataNode[];
}

export interface AssignerDeps {
  topology: Topology;
  sequencer: Sequencer;
  growth: VolumeGrowth;
  random: Random;
  /** Monotonic milliseconds (performance.now in production). */
  now: () => number;
  /**
   * The timers the slow path waits on (growth, warm-up); Node's when absent. Give one whose now()
   * agrees with `now` (the simulator's clock for both).
   */
  clock?: MasterClock;
  /**
   * Whether the cluster ever allocated a volume (the replicated max volume id is above 0). With
   * no volume server reporting yet, such a cluster is waiting for its servers, not out of them.
   */
  everAllocated: () => boolean;
}

export interface AssignerOptions {
  /** Until this time (deps.now scale) growth is refused: volume servers are still reporting. */
  warmUpUntil?: number;
  growthWaitMs?: number;
}

export class Assigner {
  private readonly deps: AssignerDeps;
  private readonly cookies = new CookieSource();
  private warmUpEnd: number;
  private readonly growthWaitMs: number;
  /** Assigns waiting out a warm-up: woken by volume reports and by the warm-up ending early. */
  private readonly wakeups: Wakeups;
  /** When each layout last grew ahead of its crowded volumes (deps.now scale). */
  private readonly grewAheadAt = new WeakMap<VolumeLayout, number>();

  constructor(deps: AssignerDeps, options: AssignerOptions = {}) {
    this.deps = deps;
    this.warmUpEnd = options.warmUpUntil ?? 0;
    this.growthWaitMs = options.growthWaitMs ?? assignGrowthWaitMs;
    this.wakeups = deps.topology.reported;
  }

  get warmingUp(): boolean {
    return this.warmUpEnd > 0 && this.deps.now() < this.warmUpEnd;
  }

  /**
   * A new leader's topology is loading: the warm-up runs, or no volume server has reported yet to
   * a cluster that has volumes (a leader elected a moment before its servers' first heartbeat).
   * Growth then would allocate volumes that already exist, or fail for want of servers.
   */
  private get awaitingServers(): boolean {
    return this.warmingUp || (this.deps.topology.nodeCount === 0 && this.deps.everAllocated());
  }

  /** Starts a warm-up window ending at `end` (deps.now scale): a new leader's topology is loading. */
  warmUpUntil(end: number): void {
    this.warmUpEnd = end;
    wakeAll(this.wakeups);
  }

  async assign(req: AssignRequest, signal?: AbortSignal): Promise<AssignResult> {
    const fast = this.tryAssign(req);
    if (fast !== undefined) return fast;
    const vid = await this.pickOrGrow(req, signal);
    const key = await this.deps.sequencer.take(req.count, signal);
    return this.result(vid, key, req.count, req.prefs);
  }

  /** The synchronous path: undefined when it needs a growth or a key block. */
  tryAssign(req: AssignRequest): AssignResult | undefined {
    const layout = this.deps.topology.findLayout(req.collection, req.replicaPlacement, req.ttl);
    if (layout === undefined) return undefined;
    const vid = this.pick(layout, req.prefs);
    if (vid < 0) return undefined;
    const key = this.deps.sequencer.tryTake(req.count);
    if (key < 0) return undefined;
    if (layout.shouldGrow) this.growAhead(layout, req);
    return this.result(vid, key, req.count, req.prefs);
  }

  /**
   * Every writable volume of the layout is crowded: grow it now, in the background, so that it
   * has fresh volumes before those fill (SeaweedFS grows on ShouldGrowVolumes). Once per
   * growAheadRetryMs per layout at most: with no free slot left, each attempt only fails.
   */
  private growAhead(layout: VolumeLayout, req: AssignRequest): void {
    if (this.awaitingServers || this.deps.growth.isGrowing(req)) return;
    const now = this.deps.now();
    if (now - (this.grewAheadAt.get(layout) ?? -Infinity) < growAheadRetryMs) return;
    this.grewAheadAt.set(layout, now);
    // growShared handles its own rejection: a failed growth here leaves the assigns as they were.
    void this.deps.growth.growShared(req, req.writableVolumeCount);
  }

  private result(vid: number, key: number, count: number, prefs: PlacementPrefs): AssignResult {
    let nodes = this.deps.topology.lookup(vid);
    // Only on the slow path can the volume lose its servers between pick and here (a heartbeat
    // stream broke during an await); the client retries.
    if (nodes === undefined || nodes.length === 0)
      throw new WeedError(ErrorCode.NO_WRITABLE_VOLUME, `volume ${vid} lost its servers`, { retryAfterSec });
    if (hasPrefs(prefs) && !matches(nodes[0]!, prefs)) {
      // Upload to the replica the client pinned (its data center, rack or node).
      const at = nodes.findIndex((n) => matches(n, prefs));
      if (at > 0) nodes = [nodes[at]!, ...nodes.filter((_, i) => i !== at)];
    }
    return { fid: formatFidNumber(vid, key, this.cookies.next()), count, nodes };
  }

  private pick(layout: VolumeLayout, prefs: PlacementPrefs): number {
    const { random } = this.deps;
    if (!hasPrefs(prefs)) return layout.pick(random);
    return layout.pickWhere(random, (nodes) => nodes.some((n) => matches(n, prefs)));
  }

  /**
   * Waits for a volume server to report a writable volume of the layout, looking again at each
   * report: -1 once the servers are in (or the warm-up is called off), or after warmUpAssignWaitMs.
   */
  private async waitForServers(layout: VolumeLayout, prefs: PlacementPrefs, signal?: AbortSignal): Promise<number> {
    // A warm-up alone ends on time; an empty topology only when a server reports.
    const onlyWarmUp = this.warmingUp && !(this.deps.topology.nodeCount === 0 && this.deps.everAllocated());
    const warmUpLeftMs = Math.max(0, this.warmUpEnd - this.deps.now());
    const timeoutMs = onlyWarmUp ? Math.min(warmUpAssignWaitMs, warmUpLeftMs) : warmUpAssignWaitMs;
    const timeout = timeoutSignal(this.deps.clock, timeoutMs);
    const check = (): number | undefined => {
      const vid = this.pick(layout, prefs);
      return vid >= 0 ? vid : this.awaitingServers ? undefined : -1;
    };
    const wait = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
    try {
      return await waitUntil(check, this.wakeups, wait);
    } catch (err) {
      if (timeout.aborted) return -1;
      throw err;
    }
  }

  private async pickOrGrow(req: AssignRequest, signal?: AbortSignal): Promise<number> {
    const { topology, growth } = this.deps;
    if (req.prefs.dataCenter !== "" && topology.dataCenter(req.prefs.dataCenter) === undefined) {
      throw new WeedError(ErrorCode.BAD_REQUEST, `data center ${req.prefs.dataCenter} not found in topology`);
    }
    const layout = topology.layoutFor(req.collection, req.replicaPlacement, req.ttl);
    let vid = this.pick(layout, req.prefs);
    if (vid >= 0) {
      if (layout.shouldGrow) this.growAhead(layout, req);
      return vid;
    }
    if (this.awaitingServers) {
      // Volume servers are still reporting to this new leader: wait for one, not for growth.
      vid = await this.waitForServers(layout, req.prefs, signal);
      if (vid >= 0) return vid;
      // Still waiting: say so ("retry soon", never "no volume servers"). Ended meanwhile: grow.
      if (this.awaitingServers)
        throw new WeedError(ErrorCode.UNAVAILABLE, "master is warming up, topology is still loading", {
          retryAfterSec,
        });
    }
    const grown = growth.growShared(req, req.writableVolumeCount);
    await waitAtMost(this.deps.clock, grown, this.growthWaitMs, signal, () => this.growthPending(req));
    vid = this.pick(layout, req.prefs);
    if (vid >= 0) return vid;
    throw new WeedError(ErrorCode.NO_WRITABLE_VOLUME, `no writable volumes for ${describeLayout(req)}`, {
      retryAfterSec,
    });
  }

  private growthPending(req: AssignRequest): WeedError {
    return new WeedError(
      ErrorCode.NO_WRITABLE_VOLUME,
      `no writable volumes for ${describeLayout(req)}, volume growth in progress`,
      { retryAfterSec },
    );
  }
}

function hasPrefs(prefs: PlacementPrefs): boolean {
  return prefs.dataCenter !== "" || prefs.rack !== "" || prefs.dataNode !== "";
}

function matches(n: DataNode, prefs: PlacementPrefs): boolean {
  if (prefs.dataCenter !== "" && n.dataCenter.id !== prefs.dataCenter) return false;
  if (prefs.rack !== "" && n.rack.id !== prefs.rack) return false;
  return prefs.dataNode === "" || n.id === prefs.dataNode;
}

/** Awaits `p`; after `ms`, or on abort, rejects with `onTimeout()` / the abort reason instead. */
async function waitAtMost<T>(
  clock: MasterClock | undefined,
  p: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  onTimeout: () => Error,
): Promise<T> {
  const timers = clock ?? realMasterClock;
  let timer: unknown;
  let onAbort: (() => void) | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = timers.setTimeout(() => reject(onTimeout()), ms);
    if (signal !== undefined) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    timers.clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}
