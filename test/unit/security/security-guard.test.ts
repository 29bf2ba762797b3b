// The white list: IPv4, IPv6, CIDRs of both, IPv4-mapped IPv6 peers, and an empty list allowing all.
import { describe, expect, it } from "vitest";
import {
  checkWhiteList,
  normalizeAddress,
  WhiteListEntryError,
  WhiteListGuard,
} from "../../../src/common/security/guard.js";

describe("white list guard", () => {
  it("an empty list allows everyone", () => {
    const g = new WhiteListGuard([]);
    expect(g.allows("203.0.113.9")).toBe(true);
    expect(g.allows(undefined)).toBe(true);
  });

  it("IPv4 addresses and CIDRs", () => {
    const g = new WhiteListGuard(["127.0.0.1", "10.1.0.0/16"]);
    expect(g.allows("127.0.0.1")).toBe(true);
    expect(g.allows("127.0.0.2")).toBe(false);
    expect(g.allows("10.1.200.3")).toBe(true);
    expect(g.allows("10.2.0.1")).toBe(false);
    expect(g.allows(undefined)).toBe(false);
    expect(g.allows("garbage")).toBe(false);
  });

  it("IPv6 addresses and CIDRs", () => {
    const g = new WhiteListGuard(["::1", "fd00:1234::/32"]);
    expect(g.allows("::1")).toBe(true);
    expect(g.allows("0:0:0:0:0:0:0:1")).toBe(true);
    expect(g.allows("fd00:1234:5::9")).toBe(true);
    expect(g.allows("fd00:1235::9")).toBe(false);
    expect(g.allows("127.0.0.1")).toBe(false);
  });

  it("an IPv4-mapped IPv6 peer (a dual-stack socket) matches its IPv4 entry, and back", () => {
    expect(normalizeAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(normalizeAddress("::FFFF:10.0.0.1")).toBe("10.0.0.1");
    expect(normalizeAddress("::1")).toBe("::1");
    const g = new WhiteListGuard(["127.0.0.0/8"]);
    expect(g.allows("::ffff:127.0.0.5")).toBe(true);
    expect(g.allows("::ffff:128.0.0.5")).toBe(false);
    expect(new WhiteListGuard(["::ffff:192.168.1.1"]).allows("192.168.1.1")).toBe(true);
  });

  it("a /0 allows every address of its family only", () => {
    const g = new WhiteListGuard(["0.0.0.0/0"]);
    expect(g.allows("8.8.8.8")).toBe(true);
    expect(g.allows("2001:db8::1")).toBe(false);
  });

  it("refuses entries that are not an address or a CIDR", () => {
    for (const bad of ["localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x", "1.2.3.4.5", "10.0.0.0/-1"])
      expect(() => checkWhiteList([bad]), bad).toThrow(WhiteListEntryError);
    expect(() => checkWhiteList(["1.2.3.4", "::/0", "192.168.0.0/24"])).not.toThrow();
  });
});
