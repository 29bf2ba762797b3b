import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WeedError } from "../../../src/common/errors.js";
import {
  copyCount,
  formatReplicaPlacement,
  parseReplicaPlacement,
  replicaPlacementFromByte,
  replicaPlacementToByte,
} from "../../../src/common/replica-placement.js";
import { formatServerAddress, grpcAddress, parseServerAddress } from "../../../src/common/server-address.js";
import { formatTtl, parseTtl, ttlFromUint32, ttlMinutes, ttlToUint32 } from "../../../src/common/ttl.js";

describe("replica placement", () => {
  it("packs xyz into one decimal byte as SeaweedFS's superblock does", () => {
    expect(replicaPlacementToByte(parseReplicaPlacement("001"))).toBe(1);
    expect(replicaPlacementToByte(parseReplicaPlacement("010"))).toBe(10);
    expect(replicaPlacementToByte(parseReplicaPlacement("200"))).toBe(200);
    expect(copyCount(parseReplicaPlacement("110"))).toBe(3);
    expect(formatReplicaPlacement(parseReplicaPlacement(""))).toBe("000");
  });

  it("round-trips every valid byte", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (b) => {
        const rp = replicaPlacementFromByte(b);
        expect(replicaPlacementToByte(rp)).toBe(b);
        expect(replicaPlacementToByte(parseReplicaPlacement(formatReplicaPlacement(rp)))).toBe(b);
      }),
    );
  });

  it.each(["abc", "1234", "0x1", "300", "-01"])("rejects %j with 406", (t) => {
    expect(() => parseReplicaPlacement(t)).toThrow(WeedError);
    try {
      parseReplicaPlacement(t);
    } catch (e) {
      expect((e as WeedError).httpStatus).toBe(406);
    }
  });
});

describe("ttl", () => {
  it("parses SeaweedFS's forms; a bare number is minutes", () => {
    expect(parseTtl("3m")).toEqual({ count: 3, unit: 1 });
    expect(parseTtl("4h")).toEqual({ count: 4, unit: 2 });
    expect(parseTtl("7M")).toEqual({ count: 7, unit: 5 });
    expect(parseTtl("15")).toEqual({ count: 15, unit: 1 });
    expect(parseTtl("")).toEqual({ count: 0, unit: 0 });
    expect(ttlMinutes(parseTtl("2d"))).toBe(2880);
  });

  it("round-trips text and the uint32 form", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.constantFrom("m", "h", "d", "w", "M", "y"), (n, u) => {
        const ttl = parseTtl(`${n}${u}`);
        expect(formatTtl(ttl)).toBe(`${n}${u}`);
        expect(ttlFromUint32(ttlToUint32(ttl))).toEqual(ttl);
      }),
    );
  });

  it.each(["3x", "h", "1000d", "-1m", "1.5h"])("rejects %j", (t) => {
    expect(() => parseTtl(t)).toThrow(/invalid ttl/);
  });
});

describe("server addresses", () => {
  it("defaults the gRPC port to port+10000 and accepts host:port.grpc", () => {
    expect(parseServerAddress("localhost:9333")).toEqual({ host: "localhost", port: 9333, grpcPort: 19333 });
    expect(parseServerAddress("10.0.0.1:9333.20000")).toEqual({ host: "10.0.0.1", port: 9333, grpcPort: 20000 });
    expect(grpcAddress(parseServerAddress("h:8080"))).toBe("h:18080");
    expect(formatServerAddress({ host: "h", port: 1, grpcPort: 10001 })).toBe("h:1");
    expect(formatServerAddress({ host: "h", port: 1, grpcPort: 5 })).toBe("h:1.5");
  });

  it.each(["localhost", ":9333", "h:0", "h:70000", "h:abc", "h:1.x"])("rejects %j", (t) => {
    expect(() => parseServerAddress(t)).toThrow(/invalid server address/);
  });
});
