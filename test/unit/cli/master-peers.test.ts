import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/cli/flags.js";
import { masterIdentity } from "../../../src/cli/master-peers.js";

describe("-peers identity", () => {
  it("finds itself whether the list says localhost, 127.0.0.1 or its -ip, and keeps the list's spelling", () => {
    const list = ["localhost:9333", "localhost:9334", "localhost:9335"];
    expect(masterIdentity("peers", list, "127.0.0.1", 9334)).toEqual({ self: "localhost:9334", peers: list, join: [] });
    expect(masterIdentity("peers", ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], "localhost", 3).self).toBe(
      "127.0.0.1:3",
    );
    expect(masterIdentity("peers", ["10.0.0.1:9333", "10.0.0.2:9333", "10.0.0.3:9333"], "10.0.0.2", 9333).self).toBe(
      "10.0.0.2:9333",
    );
  });

  it("joins the masters it lists when the list leaves it out (SeaweedFS's one-by-one form)", () => {
    expect(masterIdentity("peers", ["localhost:9333"], "127.0.0.1", 9334)).toEqual({
      self: "127.0.0.1:9334",
      peers: ["127.0.0.1:9334"],
      join: ["localhost:9333"],
    });
    // Any number of contacts: the count of a running cluster's members says nothing about this start.
    expect(masterIdentity("peers", ["h1:9333", "h2:9333"], "h3", 9333)).toEqual({
      self: "h3:9333",
      peers: ["h3:9333"],
      join: ["h1:9333", "h2:9333"],
    });
  });

  it("is a single master without -peers", () => {
    expect(masterIdentity("peers", [], "127.0.0.1", 9333)).toEqual({
      self: "127.0.0.1:9333",
      peers: ["127.0.0.1:9333"],
      join: [],
    });
  });

  it.each([
    [["h:1", "h:2"], "h", 1, /an even number.*use 3 or 5/],
    [["h1:1", "h2:1", "h3:1", "h4:1"], "h1", 1, /4 masters/],
    [["h:1", "h:1", "h:2"], "h", 1, /names a master twice/],
    [["localhost:1", "127.0.0.1:1", "h:2"], "127.0.0.1", 1, /both look like this master/],
  ])("refuses %j (ip %s port %d)", (list, ip, port, message) => {
    expect(() => masterIdentity("peers", list, ip, port)).toThrow(UsageError);
    expect(() => masterIdentity("peers", list, ip, port)).toThrow(message);
  });
});
