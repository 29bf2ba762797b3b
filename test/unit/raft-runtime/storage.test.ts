// The LevelDB log + stable store: what one Ready writes, what a reopen reads back.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Level } from "level";
import { bootstrapState } from "../../../src/raft/raft-node.js";
import { StorageCorruptError } from "../../../src/raft/runtime/errors.js";
import { entryKey, KEY_ENTRY_END } from "../../../src/raft/runtime/storage-codec.js";
import { RaftStorage } from "../../../src/raft/runtime/storage.js";
import type { Entry, Snapshot } from "../../../src/raft/types.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { normal, range, ready } from "./helpers.js";

const membership = { voters: ["a", "b", "c"], learners: [] };

let tmp: TempDir;
let dir: string;
let store: RaftStorage;

beforeEach(async () => {
  tmp = await tempDir("raft-storage-");
  dir = tmp.dir;
  store = new RaftStorage(dir);
  await store.open();
});

afterEach(async () => {
  await store.close();
  await tmp.remove();
});

async function reopen(): Promise<RaftStorage> {
  await store.close();
  store = new RaftStorage(dir);
  await store.open();
  return store;
}

async function storedEntryIndexes(): Promise<number[]> {
  await store.close();
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  const out: number[] = [];
  for await (const key of db.keys({ gte: entryKey(0), lt: KEY_ENTRY_END })) out.push(Buffer.from(key).readUInt32BE(5));
  await db.close();
  store = new RaftStorage(dir);
  await store.open();
  return out;
}

describe("RaftStorage", () => {
  it("is empty until initialized, then reopens to the same state", async () => {
    expect(await store.load()).toBeNull();
    const initial = bootstrapState(membership);
    await store.initialize(initial);
    const loaded = await (await reopen()).load();
    expect(loaded).toEqual({ hardState: initial.hardState, snapshot: initial.snapshot, entries: [] });
  });

  it("keeps entries and hard state across a reopen", async () => {
    await store.initialize(bootstrapState(membership));
    await store.persist(ready({ entries: range(2, 10, 2), hardState: { term: 2, vote: "a", commit: 7 } }));
    await store.persist(
      ready({
        entries: [
          { type: "noop", index: 11, term: 3 },
          { type: "conf-change", index: 12, term: 3, change: { type: "add-learner", node: "d" } },
        ],
        hardState: { term: 3, vote: null, commit: 10 },
      }),
    );
    const loaded = await (await reopen()).load();
    expect(loaded?.hardState).toEqual({ term: 3, vote: null, commit: 10 });
    expect(loaded?.entries.map((e) => `${e.index}@${e.term}:${e.type}`)).toEqual([
      ...range(2, 10, 2).map((e) => `${e.index}@2:normal`),
      "11@3:noop",
      "12@3:conf-change",
    ]);
    expect(loaded?.entries[10]).toEqual({
      type: "conf-change",
      index: 12,
      term: 3,
      change: { type: "add-learner", node: "d" },
    });
    expect(Buffer.from((loaded?.entries[0] as { data: Uint8Array }).data).toString()).toBe("cmd-2");
  });

  it("truncates the suffix a new leader replaces (§5.3: the conflicting entry and all that follow)", async () => {
    await store.initialize(bootstrapState(membership));
    await store.persist(ready({ entries: range(2, 10, 2), hardState: { term: 2, vote: "a", commit: 4 } }));
    await store.persist(
      ready({ entries: [normal(6, 3, "new-6"), normal(7, 3, "new-7")], hardState: { term: 3, vote: null, commit: 4 } }),
    );
    const loaded = await (await reopen()).load();
    expect(loaded?.entries.map((e) => `${e.index}@${e.term}`)).toEqual(["2@2", "3@2", "4@2", "5@2", "6@3", "7@3"]);
    expect(await storedEntryIndexes()).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it("compaction stores the snapshot and deletes the prefix it covers", async () => {
    await store.initialize(bootstrapState(membership));
    await store.persist(ready({ entries: range(2, 20, 2), hardState: { term: 2, vote: "a", commit: 15 } }));
    const snap: Snapshot = { meta: { index: 12, term: 2, membership }, data: new TextEncoder().encode("state@12") };
    await store.saveSnapshot(snap);
    expect(await storedEntryIndexes()).toEqual(range(13, 20, 2).map((e) => e.index));
    const loaded = await (await reopen()).load();
    expect(loaded?.snapshot).toEqual(snap);
    expect(loaded?.entries[0]?.index).toBe(13);
    expect(loaded?.hardState.commit).toBe(15);
  });

  it("an InstallSnapshot Ready replaces the whole log in the same batch", async () => {
    await store.initialize(bootstrapState(membership));
    await store.persist(ready({ entries: range(2, 8, 2), hardState: { term: 2, vote: null, commit: 3 } }));
    const snap: Snapshot = { meta: { index: 50, term: 4, membership }, data: new Uint8Array([1, 2, 3]) };
    await store.persist(
      ready({ snapshot: snap, entries: [normal(51, 4)], hardState: { term: 4, vote: null, commit: 50 } }),
    );
    expect(await storedEntryIndexes()).toEqual([51]);
    const loaded = await (await reopen()).load();
    expect(loaded?.snapshot?.meta.index).toBe(50);
    expect(loaded?.entries.map((e) => e.index)).toEqual([51]);
  });

  it("writes each Ready as exactly one batch (a crash cannot apply half of it), fsync'd when mustSync", async () => {
    await store.initialize(bootstrapState(membership));
    const db = (store as unknown as { db: Level<Uint8Array, Uint8Array> }).db;
    const batches: Array<{ puts: number; dels: number; sync: boolean | undefined }> = [];
    const original = db.batch.bind(db);
    vi.spyOn(db, "batch").mockImplementation(((...args: unknown[]) => {
      if (args.length > 0) throw new Error("storage must use one chained batch per write");
      const b = original();
      const rec = { puts: 0, dels: 0, sync: undefined as boolean | undefined };
      batches.push(rec);
      const put = b.put.bind(b);
      const del = b.del.bind(b);
      const write = b.write.bind(b);
      b.put = ((k: Uint8Array, v: Uint8Array) => (rec.puts++, put(k, v))) as typeof b.put;
      b.del = ((k: Uint8Array) => (rec.dels++, del(k))) as typeof b.del;
      b.write = ((o?: { sync?: boolean }) => (
        (rec.sync = o?.sync),
        o === undefined ? write() : write(o)
      )) as typeof b.write;
      return b;
    }) as unknown as typeof db.batch);
    await store.persist(ready({ entries: range(2, 30, 2), hardState: { term: 2, vote: "b", commit: 1 } }));
    await store.persist(ready({ entries: range(10, 12, 3), hardState: { term: 3, vote: null, commit: 1 } }));
    expect(batches).toEqual([
      { puts: 29 + 1, dels: 0, sync: true }, // entries + hard state
      { puts: 3 + 1, dels: 30 - 12, sync: true }, // replaced suffix 13..30 deleted in the same batch
    ]);
  });

  it("does not write when only the commit index moved; the next write carries it", async () => {
    await store.initialize(bootstrapState(membership));
    await store.persist(ready({ entries: range(2, 5, 2), hardState: { term: 2, vote: "a", commit: 1 } }));
    const before = store.stats.batches;
    await store.persist({ ...ready({ hardState: { term: 2, vote: "a", commit: 5 } }), mustSync: false });
    expect(store.stats.batches).toBe(before);
    await store.persist(ready({ entries: [normal(6, 2)] }));
    expect((await (await reopen()).load())?.hardState).toEqual({ term: 2, vote: "a", commit: 5 });
  });

  it("writes a commit index that passes a membership change, even with nothing else to write", async () => {
    await store.initialize(bootstrapState(membership));
    const change: Entry = { type: "conf-change", index: 3, term: 2, change: { type: "remove", node: "c" } };
    await store.persist(ready({ entries: [normal(2, 2), change], hardState: { term: 2, vote: "a", commit: 1 } }));
    const committed = { ...ready({ hardState: { term: 2, vote: "a", commit: 3 } }), mustSync: false };
    await store.persist({ ...committed, committedEntries: [normal(2, 2), change] });
    // A member that restarted with commit 1 would count "c" as a voter again (storage.ts).
    expect((await (await reopen()).load())?.hardState).toEqual({ term: 2, vote: "a", commit: 3 });
  });

  it("detects a corrupted value on load", async () => {
    await store.initialize(bootstrapState(membership));
    await store.persist(ready({ entries: range(2, 4, 2), hardState: { term: 2, vote: null, commit: 1 } }));
    await store.close();
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
    const v = await db.get(entryKey(3));
    const bad = new Uint8Array(v as Uint8Array);
    bad[bad.length - 1]! ^= 0xff;
    await db.put(entryKey(3), bad);
    await db.close();
    store = new RaftStorage(dir);
    await store.open();
    await expect(store.load()).rejects.toBeInstanceOf(StorageCorruptError);
  });

  it("detects a gap in the log on load", async () => {
    await store.initialize(bootstrapState(membership));
    await store.persist(ready({ entries: range(2, 6, 2), hardState: { term: 2, vote: null, commit: 1 } }));
    await store.close();
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
    await db.del(entryKey(4));
    await db.close();
    store = new RaftStorage(dir);
    await store.open();
    await expect(store.load()).rejects.toThrow(/log gap/);
  });
});
