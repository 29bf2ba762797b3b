// volume.check.disk's pure half: the replicas' needle sets in, the copies and deletes out.
import { describe, expect, it } from "vitest";
import {
  countByReplica,
  diffNeedleSets,
  newestAppendAtNs,
  splitInFlight,
  type CheckAction,
  type NeedleMeta,
  type NeedleSet,
} from "../../../src/master/repair/check-diff.js";

/** A live needle: key, append time, data CRC (Size follows the CRC so that "other bytes" differ in both). */
function live(key: bigint, at: bigint, crc = 0xaa, size = 100): NeedleMeta {
  return { key, cookie: 0x1234, offset: 8, size, deleted: false, crc, appendAtNs: at };
}

function tomb(key: bigint, at: bigint): NeedleMeta {
  return { key, cookie: 0x1234, offset: 8, size: 0, deleted: true, crc: 0, appendAtNs: at };
}

function set(...entries: NeedleMeta[]): NeedleSet {
  return new Map(entries.map((e) => [e.key, e]));
}

/** Actions as short text: "copy 5 0->1", "delete 5 @1". */
function text(actions: readonly CheckAction[]): string[] {
  return actions.map((a) =>
    a.kind === "copy" ? `copy ${a.key} ${a.from}->${a.to}` : `delete ${a.key} @${a.at} (tombstone ${a.tombstoneOn})`,
  );
}

describe("diffNeedleSets", () => {
  it("finds nothing when the sets hold the same needles (append times differ per replica)", () => {
    const a = set(live(1n, 100n), tomb(2n, 200n), live(3n, 300n, 0xbb, 7));
    const b = set(live(1n, 105n), tomb(2n, 203n), live(3n, 301n, 0xbb, 7));
    expect(diffNeedleSets([a, b])).toEqual([]);
    expect(diffNeedleSets([set(), set()])).toEqual([]);
  });

  it("copies a needle live on one replica and absent on the other, both directions", () => {
    const a = set(live(1n, 100n), live(2n, 200n));
    const b = set(live(2n, 201n), live(3n, 300n));
    expect(text(diffNeedleSets([a, b]))).toEqual(["copy 1 0->1", "copy 3 1->0"]);
  });

  it("a tombstone on one side only (absent on the other) needs nothing; absent on both is not even seen", () => {
    expect(diffNeedleSets([set(tomb(1n, 100n)), set()])).toEqual([]);
    expect(diffNeedleSets([set(), set(tomb(1n, 100n)), set()])).toEqual([]);
  });

  it("deletes a needle live on one replica when another holds a newer tombstone", () => {
    const a = set(tomb(1n, 200n));
    const b = set(live(1n, 100n));
    const [d] = diffNeedleSets([a, b]);
    expect(text([d!])).toEqual(["delete 1 @1 (tombstone 0)"]);
    expect(d).toMatchObject({ cookie: 0x1234 });
  });

  it("delete then re-write: a live record newer than the tombstone is copied over it", () => {
    const rewritten = set(live(1n, 300n, 0xcc));
    const deleted = set(tomb(1n, 200n));
    expect(text(diffNeedleSets([rewritten, deleted]))).toEqual(["copy 1 0->1"]);
    expect(text(diffNeedleSets([deleted, rewritten]))).toEqual(["copy 1 1->0"]);
  });

  it("overwrite of the same key: the newer version wins, whichever replica holds it", () => {
    const newer = set(live(1n, 300n, 0xcc, 120));
    const older = set(live(1n, 100n, 0xaa, 100));
    expect(text(diffNeedleSets([older, newer]))).toEqual(["copy 1 1->0"]);
    expect(text(diffNeedleSets([newer, older]))).toEqual(["copy 1 0->1"]);
    // Same Size, other data: told apart by the CRC.
    expect(text(diffNeedleSets([set(live(1n, 100n, 0x01)), set(live(1n, 200n, 0x02))]))).toEqual(["copy 1 1->0"]);
  });

  it("a copy carries the source's record (what ReadNeedleBlob is asked for)", () => {
    const src = live(9n, 500n, 0x77, 33);
    const [a] = diffNeedleSets([set(), set(src)]);
    expect(a).toEqual({ kind: "copy", key: 9n, from: 1, to: 0, source: src });
  });

  it("without append times (v2 volumes) a tombstone wins a tie with a live record", () => {
    expect(text(diffNeedleSets([set(live(1n, 0n)), set(tomb(1n, 0n))]))).toEqual(["delete 1 @0 (tombstone 1)"]);
  });

  it("three replicas: the newest record goes to every replica that differs", () => {
    const a = set(live(1n, 300n, 0xcc), tomb(2n, 400n));
    const b = set(live(2n, 100n));
    const c = set(tomb(1n, 200n), live(2n, 101n));
    expect(text(diffNeedleSets([a, b, c]))).toEqual([
      "copy 1 0->1",
      "copy 1 0->2",
      "delete 2 @1 (tombstone 0)",
      "delete 2 @2 (tombstone 0)",
    ]);
    expect(countByReplica(diffNeedleSets([a, b, c]), 3)).toEqual([
      { copies: 0, deletes: 0 },
      { copies: 1, deletes: 1 },
      { copies: 1, deletes: 1 },
    ]);
  });

  it("a stale copy older than a tombstone and than a newer live record elsewhere gets the live one", () => {
    // A copy made during a check keeps its source's time: here C got an old copy after B's delete.
    const a = set(live(1n, 500n, 0xdd));
    const b = set(tomb(1n, 400n));
    const c = set(live(1n, 100n, 0xaa));
    expect(text(diffNeedleSets([a, b, c]))).toEqual(["copy 1 0->1", "copy 1 0->2"]);
  });
});

describe("splitInFlight", () => {
  it("leaves writes and deletes newer than the first listing to their writers, unless the check wrote the key", () => {
    const first = [set(live(1n, 100n), live(2n, 150n)), set(live(1n, 100n))];
    const listedUpTo = newestAppendAtNs(first);
    expect(listedUpTo).toBe(150n);
    // Later listing: 2 still missing on B (old: settle), 3 written on A during the check (in flight),
    // 4 deleted on A during the check (in flight), 5 copied by the check and then rewritten on A (settle).
    const a = set(live(1n, 100n), live(2n, 150n), live(3n, 200n), tomb(4n, 210n), live(5n, 220n, 0xcc));
    const b = set(live(1n, 100n), live(4n, 90n), live(5n, 120n));
    const actions = diffNeedleSets([a, b]);
    const { settle, inFlight } = splitInFlight(actions, [a, b], listedUpTo, new Set([5n]));
    expect(text(settle)).toEqual(["copy 2 0->1", "copy 5 0->1"]);
    expect(text(inFlight)).toEqual(["copy 3 0->1", "delete 4 @1 (tombstone 0)"]);
  });

  it("settles everything when nothing is newer than the first listing", () => {
    const a = set(live(1n, 100n), tomb(2n, 120n));
    const b = set(live(2n, 110n));
    const actions = diffNeedleSets([a, b]);
    const { settle, inFlight } = splitInFlight(actions, [a, b], newestAppendAtNs([a, b]), new Set());
    expect([settle.length, inFlight]).toEqual([2, []]);
  });
});
