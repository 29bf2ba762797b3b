// Which weed-ts commands raise V8's polymorphic inline-cache size (src/cli/v8-tuning.ts), and that
// an operator's own setting stands.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { blobPolymorphicMapCount, v8FlagsFor } from "../../../src/cli/v8-tuning.js";

const FLAG = `--max-valid-polymorphic-map-count=${blobPolymorphicMapCount}`;

describe("v8FlagsFor", () => {
  it("raises the polymorphic map count for the blob-serving commands only", () => {
    expect(v8FlagsFor("volume", [], undefined)).toBe(FLAG);
    expect(v8FlagsFor("server", [], "")).toBe(FLAG);
    for (const other of ["master", "shell", "version", "backup", undefined])
      expect(v8FlagsFor(other, [], undefined)).toBeUndefined();
  });

  it("leaves the operator's own value, in node's arguments or NODE_OPTIONS, in either spelling", () => {
    expect(v8FlagsFor("volume", ["--max-valid-polymorphic-map-count=4"], undefined)).toBeUndefined();
    expect(v8FlagsFor("volume", [], "--max-old-space-size=512 --max_valid_polymorphic_map_count=8")).toBeUndefined();
    // Other flags do not count as setting it.
    expect(v8FlagsFor("volume", ["--max-old-space-size=512"], "--enable-source-maps")).toBe(FLAG);
  });

  it("node accepts the flag as set (V8 knows it; an unknown one would be reported)", () => {
    // node refuses an unknown V8 option on its command line: proof the name is one V8 has.
    const r = spawnSync(process.execPath, [FLAG, "-e", "0"], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const bad = spawnSync(process.execPath, ["--max-valid-polymorphic-map-kount=16", "-e", "0"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(bad.status).not.toBe(0);
  });
});
