import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/cli/flags.js";
import { ordinalZeroOthers, peerListFromFlags, peersByCount } from "../../../src/cli/master-peers-by-count.js";
import { masterIdentity } from "../../../src/cli/master-peers.js";

const PATTERN = "weed-master-{i}.weed-master:9333";
const name = (i: number): string => `weed-master-${i}.weed-master`;

describe("-peers.count / -peers.pattern (masters declared by count)", () => {
  it("ordinal 0 starts a cluster of its own; every other master joins through the rest", () => {
    expect(peersByCount("", 3, PATTERN, name(0), 9333)).toEqual([`${name(0)}:9333`]);
    expect(peersByCount("", 3, PATTERN, name(2), 9333)).toEqual([`${name(0)}:9333`, `${name(1)}:9333`]);
    // Read through -peers: ordinal 0 is the sole voter, the others are joiners whose id is -ip:-port.
    expect(masterIdentity("peers", peersByCount("", 5, PATTERN, name(0), 9333), name(0), 9333)).toEqual({
      self: `${name(0)}:9333`,
      peers: [`${name(0)}:9333`],
      join: [],
    });
    const fourth = masterIdentity("peers", peersByCount("", 5, PATTERN, name(3), 9333), name(3), 9333);
    expect(fourth.self).toBe(`${name(3)}:9333`);
    expect(fourth.join).toEqual([0, 1, 2, 4].map((i) => `${name(i)}:9333`));
  });

  it("a pod of a grown count asks the same members as it would have before: 1 -> 3 never bootstraps twice", () => {
    // Pod 1 of a cluster grown from 1 to 3 joins; it does not form {1, 2} into a second cluster.
    expect(masterIdentity("peers", peersByCount("", 3, PATTERN, name(1), 9333), name(1), 9333).join).toEqual([
      `${name(0)}:9333`,
      `${name(2)}:9333`,
    ]);
    expect(peersByCount("", 1, PATTERN, name(0), 9333)).toEqual([`${name(0)}:9333`]);
  });

  it("refuses an even count, naming it", () => {
    expect(() => peersByCount("", 4, PATTERN, name(0), 9333)).toThrow(UsageError);
    expect(() => peersByCount("", 4, PATTERN, name(0), 9333)).toThrow(
      /flag -peers.count: 4 masters: an even number tolerates no more failures than 3.*use an odd count/,
    );
    expect(() => peersByCount("master.", 2, PATTERN, name(0), 9333)).toThrow(/-master.peers.count: 2 masters/);
  });

  it("refuses a master that is not one of the names, a pattern without {i}, and both -peers and a count", () => {
    expect(() => peersByCount("", 3, PATTERN, "10.0.0.5", 9333)).toThrow(
      /10.0.0.5:9333 is not one of the 3 masters .*weed-master-0.weed-master:9333/,
    );
    expect(() => peersByCount("", 3, PATTERN, name(0), 9334)).toThrow(UsageError);
    expect(() => peersByCount("", 3, "weed-master.weed-master:9333", name(0), 9333)).toThrow(/exactly once/);
    expect(() => peersByCount("", 3, "weed-master-{i}", name(0), 9333)).toThrow(/expected host:port/);
    const v = { peers: "a:1", "peers.count": 3, "peers.pattern": PATTERN };
    expect(() => peerListFromFlags(v, "", name(0), 9333)).toThrow(/give one or the other/);
    expect(() => peerListFromFlags({ ...v, peers: "", "peers.count": 0 }, "", name(0), 9333)).toThrow(
      /-peers.pattern needs -peers.count/,
    );
    expect(peerListFromFlags({ peers: "a:1,b:2" }, "", "a", 1)).toEqual(["a:1", "b:2"]);
  });
});

describe("ordinal 0's question to the others", () => {
  it("is asked by ordinal 0 of more than one master only", () => {
    const v = { peers: "", "peers.count": 3, "peers.pattern": PATTERN };
    expect(ordinalZeroOthers(v, "", name(0), 9333)).toEqual([`${name(1)}:9333`, `${name(2)}:9333`]);
    expect(ordinalZeroOthers(v, "", name(1), 9333)).toEqual([]);
    expect(ordinalZeroOthers({ ...v, "peers.count": 1 }, "", name(0), 9333)).toEqual([]);
    expect(ordinalZeroOthers({ ...v, "peers.count": 0 }, "", name(0), 9333)).toEqual([]);
    expect(ordinalZeroOthers({ peers: "" }, "", name(0), 9333)).toEqual([]);
  });
});
