import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Inflights, Progress } from "../../../src/raft/progress.js";

describe("Inflights (bounded window of appends in flight)", () => {
  it("fills to capacity and frees acknowledged appends in order", () => {
    const w = new Inflights(3);
    w.add(5);
    w.add(7);
    w.add(9);
    expect(w.full()).toBe(true);
    expect(() => w.add(10)).toThrow(/add while full/);
    w.freeLE(7);
    expect(w.size).toBe(1);
    w.add(12);
    w.add(13); // wraps around the ring
    expect(w.full()).toBe(true);
    w.freeLE(100);
    expect(w.size).toBe(0);
  });

  it("matches a plain array model on random operations", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 5 })), { maxLength: 60 }),
        (cap, ops) => {
          const w = new Inflights(cap);
          let model: number[] = [];
          let last = 0;
          for (const [isAdd, step] of ops) {
            if (isAdd) {
              if (model.length === cap) continue;
              last += step + 1;
              w.add(last);
              model.push(last);
            } else {
              const upTo = last - step;
              w.freeLE(upTo);
              model = model.filter((x) => x > upTo);
            }
            expect(w.size).toBe(model.length);
            expect(w.full()).toBe(model.length === cap);
          }
        },
      ),
    );
  });
});

describe("Progress", () => {
  it("probe: one append in flight, then paused until an answer", () => {
    const pr = new Progress(6, 4, false);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(8);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(6); // probe does not move next optimistically
    expect(pr.maybeUpdate(8)).toBe(true);
    expect(pr.isPaused()).toBe(false);
    expect(pr.next).toBe(9);
  });

  it("replicate: pipelines up to the window, next moves optimistically", () => {
    const pr = new Progress(1, 2, false);
    pr.becomeReplicate();
    pr.sentEntries(3);
    pr.sentEntries(5);
    expect(pr.next).toBe(6);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(3);
    pr.inflights.freeLE(3);
    expect(pr.isPaused()).toBe(false);
  });

  it("rejections: stale ones are ignored, fresh ones back off to the hint (§5.3 fast back-off)", () => {
    const pr = new Progress(11, 4, false); // probing at prevIndex 10
    expect(pr.maybeDecrTo(7, 3)).toBe(false); // answer to an older probe
    expect(pr.maybeDecrTo(10, 4)).toBe(true);
    expect(pr.next).toBe(5);
    pr.maybeUpdate(2);
    pr.becomeReplicate();
    pr.sentEntries(9);
    expect(pr.maybeDecrTo(2, 0)).toBe(false); // at or below match: stale
    expect(pr.maybeDecrTo(5, 0)).toBe(true);
    expect(pr.next).toBe(3); // back to match+1
  });

  it("snapshot: paused until acknowledged; probe resumes after the snapshot", () => {
    const pr = new Progress(3, 4, false);
    pr.becomeSnapshot(50);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.next).toBe(51);
  });
});
