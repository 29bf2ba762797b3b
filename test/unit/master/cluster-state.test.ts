// Checks that the replicated state survives restarts: file keys and volume ids are never issued
// twice when the same mdir is closed and reopened, on a real LevelDB in a temp dir.
import { afterEach, describe, expect, it } from "vitest";
import { LevelClusterState } from "./level-cluster-state.js";
import { Sequencer } from "../../../src/master/state/sequencer.js";
import { silentLogger } from "../../../src/common/logger.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Level } from "level";
import { tempDir } from "../../helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.remove);
  return t.dir;
}

async function opened(path: string): Promise<LevelClusterState> {
  const s = new LevelClusterState(path);
  await s.open();
  return s;
}

describe("LevelClusterState", () => {
  it("starts empty with a topology id that persists", async () => {
    const path = join(await dir(), "state");
    const a = await opened(path);
    expect(a.maxVolumeId).toBe(0);
    expect(a.fileKeyCeiling).toBe(0);
    expect(a.topologyId).toMatch(/^[0-9a-f-]{36}$/);
    const id = a.topologyId;
    await a.close();
    const b = await opened(path);
    expect(b.topologyId).toBe(id);
    await b.close();
  });

  it("volume ids are monotonic across reopen", async () => {
    const path = join(await dir(), "state");
    const seen: number[] = [];
    for (let round = 0; round < 4; round++) {
      const s = await opened(path);
      const ids = await Promise.all([s.nextVolumeId(), s.nextVolumeId(), s.nextVolumeId()]);
      seen.push(...ids);
      await s.raiseMaxVolumeId(round * 100); // a heartbeat may report a higher id
      await s.close();
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    // Round 3 raised the max to 300 at its end; a fresh open continues above it.
    const s = await opened(path);
    expect(await s.nextVolumeId()).toBe(301);
    await s.close();
  });

  it("reserved key blocks never overlap across reopen, and honour the floor", async () => {
    const path = join(await dir(), "state");
    const blocks: { first: number; end: number }[] = [];
    for (let round = 0; round < 5; round++) {
      const s = await opened(path);
      blocks.push(await s.reserveFileKeys(100, 0));
      blocks.push(await s.reserveFileKeys(7, round === 2 ? 5_000 : 0));
      await s.close();
    }
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]!.first).toBeGreaterThanOrEqual(blocks[i - 1]!.end);
    expect(blocks[5]!.first).toBe(5_001);
  });

  it("refuses use after close, and a malformed record on open", async () => {
    const path = join(await dir(), "state");
    const s = await opened(path);
    await s.close();
    await s.close(); // idempotent
    await expect(s.nextVolumeId()).rejects.toMatchObject({ code: ErrorCode.CLOSED });

    const bad = join(await dir(), "bad");
    await mkdir(bad, { recursive: true });
    const db = new Level<string, string>(bad, { valueEncoding: "utf8" });
    await db.put("cluster-state", JSON.stringify({ topologyId: "x", maxVolumeId: -3, fileKeyCeiling: 0 }));
    await db.close();
    const broken = new LevelClusterState(bad);
    const err = await broken.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.CORRUPT);
    await broken.close();
    await writeFile(join(bad, "unused"), ""); // the directory is still ours to remove
  });
});

describe("Sequencer on LevelClusterState", () => {
  it("keys never repeat across close/reopen, over many blocks and with count > 1", async () => {
    const path = join(await dir(), "state");
    const taken: [number, number][] = []; // [first, count]
    for (let round = 0; round < 6; round++) {
      const state = await opened(path);
      const seq = new Sequencer(state, silentLogger(), { blockSize: 50, refillThreshold: 20 });
      await seq.start();
      // Enough keys for several blocks, mixing single keys and runs.
      for (let i = 0; i < 120; i++) {
        const count = 1 + (i % 5);
        taken.push([await seq.take(count), count]);
      }
      seq.close();
      await state.close();
    }
    const keys = new Set<number>();
    for (const [first, count] of taken) {
      for (let k = first; k < first + count; k++) {
        expect(keys.has(k)).toBe(false);
        keys.add(k);
      }
    }
    expect(keys.size).toBe(6 * 120 * 3);
  });

  it("a restart starts above the persisted ceiling even if the last block was barely used", async () => {
    const path = join(await dir(), "state");
    const a = await opened(path);
    const s1 = new Sequencer(a, silentLogger(), { blockSize: 1000, refillThreshold: 10 });
    await s1.start();
    const k1 = s1.tryTake(1);
    const ceiling = a.fileKeyCeiling;
    s1.close();
    await a.close();
    const b = await opened(path);
    const s2 = new Sequencer(b, silentLogger(), { blockSize: 1000, refillThreshold: 10 });
    await s2.start();
    const k2 = s2.tryTake(1);
    expect(k1).toBe(1);
    expect(k2).toBeGreaterThan(ceiling);
    s2.close();
    await b.close();
  });
});
