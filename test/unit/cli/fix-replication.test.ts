// The placement check (the shared planner, src/master/repair/plan.ts) and pattern match of volume.fix.replication.
import { describe, expect, it } from "vitest";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { collectionMatcher } from "../../../src/cli/shell/fix-replication.js";
import { satisfiesPlacement, type Place } from "../../../src/master/repair/plan.js";

const p = (dataCenter: string, rack: string, node: string): Place => ({ dataCenter, rack, node });

describe("satisfiesPlacement (SeaweedFS SatisfyReplicaPlacement)", () => {
  it("010: the second copy goes to another rack of the same data center, never the same node or rack", () => {
    const rp = parseReplicaPlacement("010");
    const have = [p("dc1", "r1", "a")];
    expect(satisfiesPlacement(rp, have, p("dc1", "r2", "b"))).toBe(true);
    expect(satisfiesPlacement(rp, have, p("dc1", "r1", "c"))).toBe(false);
    expect(satisfiesPlacement(rp, have, p("dc1", "r1", "a"))).toBe(false);
    expect(satisfiesPlacement(rp, have, p("dc2", "r9", "d"))).toBe(false);
  });
  it("001: same rack, another node; 100: another data center", () => {
    expect(satisfiesPlacement(parseReplicaPlacement("001"), [p("dc1", "r1", "a")], p("dc1", "r1", "b"))).toBe(true);
    expect(satisfiesPlacement(parseReplicaPlacement("001"), [p("dc1", "r1", "a")], p("dc1", "r2", "b"))).toBe(false);
    expect(satisfiesPlacement(parseReplicaPlacement("100"), [p("dc1", "r1", "a")], p("dc2", "r1", "b"))).toBe(true);
  });
  it("with no replica left, any node will do", () => {
    expect(satisfiesPlacement(parseReplicaPlacement("010"), [], p("dc1", "r1", "a"))).toBe(true);
  });
});

describe("collectionMatcher", () => {
  it("matches * and ? like SeaweedFS, and everything for an empty pattern", () => {
    expect(collectionMatcher("")("anything")).toBe(true);
    expect(collectionMatcher("pic*")("pictures")).toBe(true);
    expect(collectionMatcher("pic?")("pics")).toBe(true);
    expect(collectionMatcher("pic?")("pictures")).toBe(false);
    expect(collectionMatcher("a.b")("axb")).toBe(false);
  });
});
