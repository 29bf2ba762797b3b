import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EMPTY_MEMBERSHIP, RaftLog } from "../../../src/raft/raft-log.js";
import type { Entry, Snapshot } from "../../../src/raft/types.js";

function ent(index: number, term: number): Entry {
  return { type: "noop", index, term };
}

function entries(terms: readonly number[], first = 1): Entry[] {
  return terms.map((t, i) => ent(first + i, t));
}

function snap(index: number, term: number): Snapshot {
  return { meta: { index, term, membership: EMPTY_MEMBERSHIP }, data: new Uint8Array() };
}

describe("RaftLog", () => {
  it("looks up terms around the snapshot boundary", () => {
    const log = new RaftLog(snap(5, 2), entries([2, 3, 3], 6), 5, 5);
    expect(log.firstIndex()).toBe(6);
    expect(log.lastIndex()).toBe(8);
    expect(log.term(4)).toBeUndefined(); // compacted
    expect(log.term(5)).toBe(2); // the snapshot's
    expect(log.term(8)).toBe(3);
    expect(log.term(9)).toBeUndefined();
    expect(log.slice(5, 9, 100, 100)).toBeUndefined();
    expect(log.slice(6, 9, 100, 2)?.map((e) => e.index)).toEqual([6, 7]);
  });

  it("§5.4.1 up-to-date: later last term wins, then longer log", () => {
    const log = new RaftLog(null, entries([1, 1, 2]), 0, 0);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
  });

  it("findConflict: first missing or different entry; 0 when all present", () => {
    const log = new RaftLog(null, entries([1, 1, 2, 2]), 0, 0);
    expect(log.findConflict(entries([1, 1]))).toBe(0);
    expect(log.findConflict(entries([2, 2, 3], 3))).toBe(5);
    expect(log.findConflict(entries([1, 3], 2))).toBe(3);
    expect(log.findConflict([])).toBe(0);
  });

  it("findConflictByTerm skips a whole term", () => {
    // index: 1 2 3 4 5 6 7
    // term:  1 1 1 4 4 5 5
    const log = new RaftLog(null, entries([1, 1, 1, 4, 4, 5, 5]), 0, 0);
    expect(log.findConflictByTerm(7, 3)).toEqual({ index: 3, term: 1 });
    expect(log.findConflictByTerm(7, 4)).toEqual({ index: 5, term: 4 });
    expect(log.findConflictByTerm(20, 9)).toEqual({ index: 7, term: 5 });
    expect(log.findConflictByTerm(7, 0)).toEqual({ index: 0, term: 0 });
  });

  it("append truncates an uncommitted suffix and marks it unstable again", () => {
    const log = new RaftLog(null, entries([1, 1, 1]), 1, 1);
    expect(log.hasUnstableEntries()).toBe(false);
    log.append([ent(3, 2), ent(4, 2)]);
    expect(log.unstableEntries().map((e) => `${e.index}@${e.term}`)).toEqual(["3@2", "4@2"]);
    log.stableTo(4, 2);
    expect(log.hasUnstableEntries()).toBe(false);
    expect(() => log.append([ent(1, 3)])).toThrow(/overwrites committed/);
    expect(() => log.append([ent(9, 3)])).toThrow(/gap/);
  });

  it("stableTo ignores a position the log no longer has", () => {
    const log = new RaftLog(null, [], 0, 0);
    log.append(entries([1, 1]));
    log.append([ent(2, 2)]); // replaced before the first write was acknowledged
    log.stableTo(2, 1);
    expect(log.persisted()).toBe(0);
    log.stableTo(2, 2);
    expect(log.persisted()).toBe(2);
  });

  it("compacts up to applied and durable, keeping the snapshot", () => {
    const log = new RaftLog(null, entries([1, 1, 2, 2]), 3, 3);
    expect(() => log.compact(4, new Uint8Array(), EMPTY_MEMBERSHIP)).toThrow(/beyond applied/);
    const s = log.compact(3, new Uint8Array([7]), EMPTY_MEMBERSHIP);
    expect(s.meta).toMatchObject({ index: 3, term: 2 });
    expect(log.firstIndex()).toBe(4);
    expect(log.term(3)).toBe(2);
    expect(log.entry(4)?.term).toBe(2);
    expect(log.latestSnapshot()).toBe(s);
  });

  it("restore replaces the log; no committed entries until the snapshot is applied", () => {
    const log = new RaftLog(null, entries([1, 1]), 1, 1);
    log.restore(snap(10, 3));
    expect(log.lastIndex()).toBe(10);
    expect(log.committed).toBe(10);
    expect(log.pendingSnapshot()?.meta.index).toBe(10);
    expect(log.hasNextCommittedEntries()).toBe(false);
    log.stableSnapshotTo(10);
    expect(log.applied).toBe(10);
    expect(log.pendingSnapshot()).toBeNull();
  });

  it("matches an array model under random appends, truncations and commits", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.nat({ max: 12 }),
            terms: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 4 }),
            commit: fc.nat({ max: 3 }),
          }),
          { maxLength: 30 },
        ),
        (ops) => {
          const log = new RaftLog(null, [], 0, 0);
          let model: Entry[] = [];
          let term = 0;
          for (const op of ops) {
            const first = Math.max(log.committed + 1, Math.min(op.at, model.length + 1));
            const ents = op.terms.map((_, i) => ent(first + i, ++term));
            if (ents.length === 0) continue;
            log.append(ents);
            model = [...model.slice(0, first - 1), ...ents];
            log.commitTo(Math.min(model.length, log.committed + op.commit));
            expect(log.lastIndex()).toBe(model.length);
            for (const e of model) expect(log.term(e.index)).toBe(e.term);
            expect(log.findConflict(model)).toBe(0);
          }
        },
      ),
    );
  });
});
