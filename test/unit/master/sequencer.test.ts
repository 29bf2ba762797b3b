// Checks the sequencer's hot path and refill: concurrent takers never share a key, the next block
// is reserved before the current one runs dry, and heartbeat-reported keys raise the floor.
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { ClusterState, KeyBlock } from "../../../src/master/state/cluster-state.js";
import { LevelClusterState } from "./level-cluster-state.js";
import { Sequencer } from "../../../src/master/state/sequencer.js";
import { silentLogger } from "../../../src/common/logger.js";
import { tempDir, waitFor } from "../../helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function state(): Promise<LevelClusterState> {
  const t = await tempDir();
  const s = new LevelClusterState(join(t.dir, "state"));
  await s.open();
  cleanups.push(t.remove, () => s.close());
  return s;
}

/** Counts reservations, to see when the sequencer goes to the store. */
class CountingState implements ClusterState {
  reservations = 0;
  /** Reservations started and not yet durable. */
  inFlight = 0;
  constructor(private readonly inner: ClusterState) {}
  open(): Promise<void> {
    return this.inner.open();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  get topologyId(): string {
    return this.inner.topologyId;
  }
  get maxVolumeId(): number {
    return this.inner.maxVolumeId;
  }
  get fileKeyCeiling(): number {
    return this.inner.fileKeyCeiling;
  }
  nextVolumeId(): Promise<number> {
    return this.inner.nextVolumeId();
  }
  raiseMaxVolumeId(id: number): Promise<void> {
    return this.inner.raiseMaxVolumeId(id);
  }
  reserveFileKeys(count: number, floor: number): Promise<KeyBlock> {
    this.reservations++;
    this.inFlight++;
    return this.inner.reserveFileKeys(count, floor).finally(() => this.inFlight--);
  }
}

describe("Sequencer", () => {
  it("concurrent takers get disjoint key ranges", async () => {
    const seq = new Sequencer(await state(), silentLogger(), { blockSize: 64, refillThreshold: 16 });
    await seq.start();
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => seq.take(1 + (i % 7)).then((k) => [k, 1 + (i % 7)] as const)),
    );
    const used = new Set<number>();
    for (const [first, count] of results) {
      for (let k = first; k < first + count; k++) {
        expect(used.has(k)).toBe(false);
        used.add(k);
      }
    }
    expect(used.size).toBe(results.reduce((n, [, c]) => n + c, 0));
    seq.close();
  });

  it("reserves the next block ahead, so tryTake does not run dry at a steady pace", async () => {
    const counting = new CountingState(await state());
    const seq = new Sequencer(counting, silentLogger(), { blockSize: 100, refillThreshold: 50 });
    await seq.start();
    let misses = 0;
    for (let i = 0; i < 1000; i++) {
      if (seq.tryTake(1) < 0) misses++;
      // A steady pace is one slower than a sync write: every 10 keys, the reservation under way
      // (if any) completes. A sequencer that reserved only once a block ran dry would miss here.
      if (i % 10 === 9) await waitFor(() => counting.inFlight === 0, { what: "the reservation under way" });
    }
    expect(misses).toBe(0);
    expect(counting.reservations).toBeGreaterThanOrEqual(10);
    seq.close();
  });

  it("a key reported by a heartbeat raises the floor", async () => {
    const seq = new Sequencer(await state(), silentLogger(), { blockSize: 100, refillThreshold: 10 });
    await seq.start();
    expect(seq.tryTake(1)).toBe(1);
    seq.observe(40);
    expect(seq.tryTake(1)).toBe(41);
    // Beyond everything in hand: the sequencer must reserve above it.
    seq.observe(100_000);
    const k = await seq.take(1);
    expect(k).toBeGreaterThan(100_000);
    // Lower reports change nothing.
    seq.observe(5);
    expect(seq.tryTake(1)).toBe(k + 1);
    seq.close();
  });

  it("ignores keys outside its range instead of wrapping", async () => {
    const seq = new Sequencer(await state(), silentLogger(), { blockSize: 100, refillThreshold: 10 });
    await seq.start();
    seq.observe(Number(2n ** 60n));
    expect(seq.tryTake(1)).toBe(1);
    seq.close();
  });

  it("skips the tail of a block that cannot hold a run of count keys", async () => {
    const seq = new Sequencer(await state(), silentLogger(), { blockSize: 10, refillThreshold: 5 });
    await seq.start();
    expect(seq.tryTake(8)).toBe(1);
    const k = await seq.take(5);
    expect(k).toBeGreaterThanOrEqual(11);
    seq.close();
  });
});
